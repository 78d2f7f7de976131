// Channel-slice puts into a table's array column, whole-column puts, the
// caches and storage managers of a table's columns, flushing a table, and
// marking one for delete: the casacore calls rubbl_casatables does not
// wrap (it puts whole cells only, and flushes only in the destructor, where
// a failed write -- a full disk -- cannot be reported and aborts the
// process). The streaming daemon writes each subband's channels as the
// subband lands; tiles one subband wide make those puts touch only that
// subband's tiles. Every casacore exception, and anything else thrown, is
// caught here and returned as a message.
//
// Compiled against the casacore that rubbl_casatables_impl builds (in its
// `rubbl_casacore` namespace), so the table opened here is the very object
// rubbl has open: casacore's table cache hands back the same PlainTable.

#include <casacore/casa/Arrays/Array.h>
#include <casacore/casa/Arrays/Slicer.h>
#include <casacore/tables/DataMan/IncrementalStMan.h>
#include <casacore/tables/DataMan/StandardStMan.h>
#include <casacore/tables/DataMan/TiledColumnStMan.h>
#include <casacore/tables/DataMan/TiledStManAccessor.h>
#include <casacore/tables/Tables/ArrayColumn.h>
#include <casacore/tables/Tables/ScalarColumn.h>
#include <casacore/tables/Tables/Table.h>

#include <complex>
#include <cstdio>
#include <cstring>
#include <exception>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

template <typename T>
void put_slice(const char *table_path, const char *column, unsigned long row0,
               unsigned long n_rows, unsigned long chan0, unsigned long n_chan,
               unsigned long n_pol, const T *values) {
    using namespace casacore;
    Table table(table_path, Table::Update);
    ArrayColumn<T> col(table, column);
    // casacore order: [pol, chan, row], the reverse of our [row][chan][pol].
    IPosition shape(3, n_pol, n_chan, n_rows);
    Array<T> arr(shape, const_cast<T *>(values), SHARE);
    Slicer rows(IPosition(1, row0), IPosition(1, n_rows));
    Slicer cells(IPosition(2, 0, chan0), IPosition(2, n_pol, n_chan));
    col.putColumnRange(rows, cells, arr);
}

// Every row of `column` at once: a scalar column when `per_row` is 0,
// else cells of `per_row` values. A whole-column put goes bucket by bucket
// in the standard storage manager; a row range goes cell by cell, each
// looking its bucket up.
template <typename T>
void put_column(const char *table_path, const char *column,
                unsigned long per_row, const T *values) {
    using namespace casacore;
    Table table(table_path, Table::Update);
    if (per_row == 0) {
        ScalarColumn<T> col(table, column);
        Vector<T> vec(IPosition(1, table.nrow()), const_cast<T *>(values), SHARE);
        col.putColumn(vec);
    } else {
        ArrayColumn<T> col(table, column);
        Array<T> arr(IPosition(2, per_row, table.nrow()), const_cast<T *>(values), SHARE);
        col.putColumn(arr);
    }
}

int fail(const char *what, char *err, unsigned long err_len) {
    if (err_len > 0) {
        std::strncpy(err, what, err_len - 1);
        err[err_len - 1] = '\0';
    }
    return 1;
}

// Run `f`: 0, or 1 with the message of whatever it threw in `err` (no
// exception crosses into Rust).
template <typename F> int guarded(F f, char *err, unsigned long err_len) {
    try {
        f();
        return 0;
    } catch (const std::exception &e) {
        return fail(e.what(), err, err_len);
    } catch (...) {
        return fail("unknown C++ exception", err, err_len);
    }
}

// An element type code the caller should never send.
struct UnknownType : std::exception {
    const char *what() const noexcept override { return "unknown element type"; }
};

} // namespace

extern "C" {

// Element types of `values`.
enum { DSA110_COMPLEX = 0, DSA110_FLOAT = 1, DSA110_BOOL = 2 };

// Put `values` ([row][chan][pol], n_rows x n_chan x n_pol) into rows
// row0.. and channels chan0.. of `column`. Returns 0, or 1 with a message
// in `err`.
int dsa110_put_slice(const char *table_path, const char *column, int type,
                     unsigned long row0, unsigned long n_rows,
                     unsigned long chan0, unsigned long n_chan,
                     unsigned long n_pol, const void *values, char *err,
                     unsigned long err_len) {
    return guarded(
        [&] {
            switch (type) {
            case DSA110_COMPLEX:
                return put_slice(table_path, column, row0, n_rows, chan0, n_chan, n_pol,
                                 static_cast<const casacore::Complex *>(values));
            case DSA110_FLOAT:
                return put_slice(table_path, column, row0, n_rows, chan0, n_chan, n_pol,
                                 static_cast<const float *>(values));
            case DSA110_BOOL:
                return put_slice(table_path, column, row0, n_rows, chan0, n_chan, n_pol,
                                 static_cast<const bool *>(values));
            default:
                throw UnknownType();
            }
        },
        err, err_len);
}

// Element types of whole columns.
enum { DSA110_INT = 0, DSA110_DOUBLE = 1 };

// Put `values` into every row of `column` (see put_column). Returns 0, or
// 1 with a message in `err`.
int dsa110_put_column(const char *table_path, const char *column, int type,
                      unsigned long per_row, const void *values, char *err,
                      unsigned long err_len) {
    return guarded(
        [&] {
            switch (type) {
            case DSA110_INT:
                return put_column(table_path, column, per_row,
                                  static_cast<const casacore::Int *>(values));
            case DSA110_DOUBLE:
                return put_column(table_path, column, per_row,
                                  static_cast<const double *>(values));
            default:
                throw UnknownType();
            }
        },
        err, err_len);
}

// Write everything of the open table at `table_path` (and its subtables)
// to its files, fsync-ed when `sync` is non-zero. Returns 0, or 1 with a
// message in `err`.
int dsa110_flush_table(const char *table_path, int sync, char *err,
                       unsigned long err_len) {
    return guarded(
        [&] {
            casacore::Table table(table_path, casacore::Table::Update);
            table.flush(sync != 0, true);
        },
        err, err_len);
}

// Hold `n_tiles` tiles in the cache of the tiled storage manager
// `data_manager` of the open table at `table_path` (its one hypercube), and
// keep casacore from sizing it anew for each access: tiles written part by
// part then stay in memory until complete, instead of being written,
// read back and written again. Returns 0, or 1 with a message in `err`.
int dsa110_set_tile_cache(const char *table_path, const char *data_manager,
                          unsigned long n_tiles, char *err,
                          unsigned long err_len) {
    return guarded(
        [&] {
            casacore::Table table(table_path, casacore::Table::Update);
            casacore::ROTiledStManAccessor acc(table, data_manager);
            for (casacore::uInt h = 0; h < acc.nhypercubes(); h++) {
                acc.setHypercubeCacheSize(h, n_tiles, false);
            }
        },
        err, err_len);
}

// Store the columns of the open table at `table_path` (which has no rows
// yet) named in `incremental` (comma-separated) in an incremental storage
// manager named "IncrementalStMan", each fixed-shape array column (UVW) in
// a tiled column manager of its own, "Tiled<NAME>", in tiles of 1024 rows
// (as CASA's simulator stores UVW: a whole-column put is then a copy per
// tile, where a standard manager puts a cell at a time), and the others
// in a standard storage manager named "StandardStMan" with buckets of
// `bucket_bytes`. A table
// created from a description alone gets casacore's default, a standard
// storage manager of 32-row buckets (3460 bytes for the MS's per-row
// columns), written at offsets no page boundary lines up with: the kernel
// then zeroes the rest of each new page around every bucket written.
// Columns keep their descriptions and keywords; each manager's columns
// keep their order, and the managers come in the order of their first
// column. Returns 0, or 1 with a message in `err`.
int dsa110_bind_row_columns(const char *table_path, const char *incremental,
                            unsigned long bucket_bytes, char *err,
                            unsigned long err_len) {
    return guarded(
        [&] {
            using namespace casacore;
            Table table(table_path, Table::Update);
            if (table.nrow() != 0 || table.tableDesc().ncolumn() == 0) {
                throw AipsError("the table has rows already, or no columns");
            }
            std::set<std::string> in_ism;
            std::istringstream list(incremental);
            for (std::string name; std::getline(list, name, ',');) {
                in_ism.insert(name);
            }
            // Each manager takes its columns all at once (an incremental
            // one cannot add a column later; a standard one would keep a
            // bucket per column added).
            const Vector<String> names = table.tableDesc().columnNames();
            TableDesc in_ssm_desc, in_ism_desc;
            std::vector<ColumnDesc> tiled;
            for (const String &name : names) {
                const ColumnDesc &column = table.tableDesc().columnDesc(name);
                if (column.isArray() && column.isFixedShape()) {
                    tiled.push_back(column);
                } else {
                    (in_ism.count(name) > 0 ? in_ism_desc : in_ssm_desc).addColumn(column);
                }
            }
            // casacore removes the old manager's bucket file with its
            // last column, but not its (empty) file of indirect arrays.
            const String old_arrays =
                table.findDataManager(names(0), true)->fileName() + "i";
            table.removeColumn(names);
            std::remove(old_arrays.c_str());
            for (const ColumnDesc &column : tiled) {
                IPosition tile = column.shape();
                tile.append(IPosition(1, 1024));
                TableDesc one;
                one.addColumn(column);
                table.addColumn(one, TiledColumnStMan("Tiled" + column.name(), tile));
            }
            const StandardStMan ssm("StandardStMan", bucket_bytes);
            const IncrementalStMan ism("IncrementalStMan");
            const bool ssm_first = in_ism.count(names(0)) == 0;
            for (bool ssm_now : {ssm_first, !ssm_first}) {
                const TableDesc &group = ssm_now ? in_ssm_desc : in_ism_desc;
                if (group.ncolumn() > 0) {
                    table.addColumn(group, ssm_now ? static_cast<const DataManager &>(ssm)
                                                   : static_cast<const DataManager &>(ism));
                }
            }
        },
        err, err_len);
}

// Mark the open table at `table_path` for delete: when the last reference
// goes it is removed instead of written (nothing left to fail). Returns 0,
// or 1 with a message in `err`.
int dsa110_mark_for_delete(const char *table_path, char *err,
                           unsigned long err_len) {
    return guarded(
        [&] {
            casacore::Table table(table_path, casacore::Table::Update);
            table.markForDelete();
        },
        err, err_len);
}
}
