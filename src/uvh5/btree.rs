//! A dataset's chunk index read straight from the file, in one pass.
//!
//! HDF5 1.10 (Debian 12's) can list chunks only one at a time, and each
//! call (`H5Dget_chunk_info`, `H5Dget_chunk_info_by_coord`) walks the index
//! from its start: quadratic in the number of chunks, about 15 s for a
//! full group of the correlator's ~12,000 chunks per file. `H5Dchunk_iter`,
//! which walks it once, came with HDF5 1.14. So we walk the index
//! ourselves, following the HDF5 File Format Specification (version 3):
//! the dataset's object header (version 1 or 2) gives the Data Layout
//! message (version 3, chunked), whose version-1 B-tree (node type 1) lists
//! every chunk with its offset, size, filter mask and address. That is the
//! index h5py and the correlator's writer create (files of the default,
//! earliest library version bounds). Anything else (a version-4 layout with
//! another index type, 4-byte addresses, an unexpected signature) returns
//! `None`, and the caller asks the library.

use std::fs::File;
use std::os::unix::fs::FileExt;

/// One chunk as the B-tree lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct IndexedChunk {
    /// Element offset of the chunk's first element on each dataset axis.
    pub offset: Vec<u64>,
    pub addr: u64,
    pub size: u64,
    pub filter_mask: u32,
}

/// Bytes of an address or length: files written with other sizes are
/// left to the library.
const SIZEOF: usize = 8;
/// Data Layout message type.
const LAYOUT: u16 = 0x0008;
/// Object Header Continuation message type.
const CONTINUATION: u16 = 0x0010;

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

fn read_at(file: &File, addr: u64, len: usize) -> Option<Vec<u8>> {
    // Guard against absurd lengths from a damaged header.
    if len > 64 << 20 {
        return None;
    }
    let mut buf = vec![0u8; len];
    file.read_exact_at(&mut buf, addr).ok()?;
    Some(buf)
}

/// Every chunk of the dataset whose object header is at `ohdr_addr`, whose
/// chunks are `chunk` elements on each axis, or `None` (see module docs).
pub(super) fn chunks(file: &File, ohdr_addr: u64, chunk: &[usize]) -> Option<Vec<IndexedChunk>> {
    let (btree, dims) = layout_message(file, ohdr_addr)?;
    // The message's dimensions are the chunk's, plus the element size.
    if dims.len() != chunk.len() + 1
        || dims[..chunk.len()]
            .iter()
            .zip(chunk)
            .any(|(&d, &c)| d as usize != c)
    {
        return None;
    }
    let mut out = Vec::new();
    walk(file, btree, dims.len(), &mut out, 0)?;
    Some(out)
}

/// The B-tree address and chunk dimensions of a version-3 chunked layout.
fn layout_message(file: &File, addr: u64) -> Option<(u64, Vec<u32>)> {
    let mut found = None;
    let mut visit = |kind: u16, data: &[u8]| {
        if kind == LAYOUT && found.is_none() {
            found = parse_layout(data);
        }
    };
    let head = read_at(file, addr, 16)?;
    if &head[0..4] == b"OHDR" {
        object_header_v2(file, addr, &mut visit)?;
    } else if head[0] == 1 {
        object_header_v1(file, addr, &head, &mut visit)?;
    } else {
        return None;
    }
    found
}

fn parse_layout(data: &[u8]) -> Option<(u64, Vec<u32>)> {
    // Version 3, class 2 (chunked): dimensionality, B-tree address, dims.
    if *data.first()? != 3 || *data.get(1)? != 2 {
        return None;
    }
    let ndims = *data.get(2)? as usize;
    let btree = u64_at(data, 3)?;
    let dims = (0..ndims)
        .map(|k| u32_at(data, 3 + SIZEOF + 4 * k))
        .collect::<Option<Vec<_>>>()?;
    Some((btree, dims))
}

/// Messages of a version-1 object header and its continuation blocks.
fn object_header_v1(
    file: &File,
    addr: u64,
    head: &[u8],
    visit: &mut impl FnMut(u16, &[u8]),
) -> Option<()> {
    let size = u32_at(head, 8)? as usize;
    // The 12-byte prefix is padded to 16.
    let mut blocks = vec![(addr + 16, size)];
    while let Some((at, len)) = blocks.pop() {
        let b = read_at(file, at, len)?;
        let mut p = 0;
        while p + 8 <= b.len() {
            let kind = u16_at(&b, p)?;
            let n = u16_at(&b, p + 2)? as usize;
            let data = b.get(p + 8..p + 8 + n)?;
            if kind == CONTINUATION {
                blocks.push((u64_at(data, 0)?, u64_at(data, 8)? as usize));
            } else {
                visit(kind, data);
            }
            p += 8 + n;
        }
    }
    Some(())
}

/// Messages of a version-2 object header ("OHDR", continuation blocks
/// "OCHK", each ending in a 4-byte checksum).
fn object_header_v2(file: &File, addr: u64, visit: &mut impl FnMut(u16, &[u8])) -> Option<()> {
    let head = read_at(file, addr, 32)?;
    if head[4] != 2 {
        return None;
    }
    let flags = head[5];
    let mut p = 6;
    if flags & 0x20 != 0 {
        p += 16;
    }
    if flags & 0x10 != 0 {
        p += 4;
    }
    let width = 1usize << (flags & 0x03);
    let mut size = 0u64;
    for k in 0..width {
        size |= (*head.get(p + k)? as u64) << (8 * k);
    }
    p += width;
    let order = flags & 0x04 != 0;
    let msg_head = if order { 6 } else { 4 };
    let mut blocks = vec![(addr + p as u64, size as usize)];
    let mut first = true;
    while let Some((at, len)) = blocks.pop() {
        let b = read_at(file, at, len)?;
        // A continuation block starts with "OCHK" and ends with a checksum;
        // the first block's checksum follows its `size` bytes.
        let (mut q, end) = if first {
            (0, b.len())
        } else {
            if b.get(0..4)? != b"OCHK" {
                return None;
            }
            (4, b.len().checked_sub(4)?)
        };
        first = false;
        while q + msg_head <= end {
            let kind = *b.get(q)? as u16;
            let n = u16_at(&b, q + 1)? as usize;
            let data = b.get(q + msg_head..q + msg_head + n)?;
            if kind == CONTINUATION {
                blocks.push((u64_at(data, 0)?, u64_at(data, 8)? as usize));
            } else {
                visit(kind, data);
            }
            q += msg_head + n;
        }
    }
    Some(())
}

/// Collect the chunks under the B-tree node at `addr`.
fn walk(
    file: &File,
    addr: u64,
    dimensionality: usize,
    out: &mut Vec<IndexedChunk>,
    depth: usize,
) -> Option<()> {
    if depth > 64 {
        return None;
    }
    let head = read_at(file, addr, 8 + 2 * SIZEOF)?;
    if &head[0..4] != b"TREE" || head[4] != 1 {
        return None;
    }
    let level = head[5];
    let entries = u16_at(&head, 6)? as usize;
    let key = 8 + 8 * dimensionality;
    let body = read_at(
        file,
        addr + head.len() as u64,
        entries * (key + SIZEOF) + key,
    )?;
    for i in 0..entries {
        let k = i * (key + SIZEOF);
        let child = u64_at(&body, k + key)?;
        if level == 0 {
            let offset = (0..dimensionality - 1)
                .map(|d| u64_at(&body, k + 8 + 8 * d))
                .collect::<Option<Vec<_>>>()?;
            out.push(IndexedChunk {
                offset,
                addr: child,
                size: u32_at(&body, k)? as u64,
                filter_mask: u32_at(&body, k + 4)?,
            });
        } else {
            walk(file, child, dimensionality, out, depth + 1)?;
        }
    }
    Some(())
}
