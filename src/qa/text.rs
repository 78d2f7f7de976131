//! Text for the dashboard: a plotters backend that draws everything else
//! through the backend it wraps and renders text itself, with ab_glyph and
//! the Hack font compiled into the binary.
//!
//! Why not plotters' own font features: `ttf` needs fontconfig and system
//! fonts, and `ab_glyph` replaces plotters' text for every user of plotters
//! in the build, criterion's reports included, which then fail for want of
//! a registered font. Without either, plotters only estimates text sizes;
//! this backend measures and draws the glyphs.

use ab_glyph::{point, Font, FontRef, PxScale, ScaleFont};
use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingBackend, DrawingErrorKind,
};

/// The Hack font (MIT / Bitstream Vera licence), from `epaint_default_fonts`.
const FONT_BYTES: &[u8] = epaint_default_fonts::HACK_REGULAR;

/// `inner` with its text drawn by ab_glyph.
pub(super) struct TextBackend<B> {
    inner: B,
    font: FontRef<'static>,
}

impl<B: DrawingBackend> TextBackend<B> {
    pub fn new(inner: B) -> Result<TextBackend<B>, ab_glyph::InvalidFont> {
        Ok(TextBackend {
            inner,
            font: FontRef::try_from_slice(FONT_BYTES)?,
        })
    }

    /// Width and height of `text` at `size` pixels.
    fn measure(&self, size: f64, text: &str) -> (i32, i32) {
        let font = self.font.as_scaled(PxScale::from(size as f32));
        let mut width = 0.0;
        let mut prev = None;
        for c in text.chars() {
            let id = font.glyph_id(c);
            if let Some(p) = prev {
                width += font.kern(p, id);
            }
            width += font.h_advance(id);
            prev = Some(id);
        }
        (width.ceil() as i32, font.height().ceil() as i32)
    }
}

/// What a drawing call of the wrapped backend returns.
type Drawn<E> = Result<(), DrawingErrorKind<E>>;

impl<B: DrawingBackend> DrawingBackend for TextBackend<B> {
    type ErrorType = B::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.inner.get_size()
    }

    fn ensure_prepared(&mut self) -> Drawn<B::ErrorType> {
        self.inner.ensure_prepared()
    }

    fn present(&mut self) -> Drawn<B::ErrorType> {
        self.inner.present()
    }

    fn draw_pixel(&mut self, point: BackendCoord, color: BackendColor) -> Drawn<B::ErrorType> {
        self.inner.draw_pixel(point, color)
    }

    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Drawn<B::ErrorType> {
        self.inner.draw_line(from, to, style)
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Drawn<B::ErrorType> {
        self.inner.draw_rect(upper_left, bottom_right, style, fill)
    }

    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Drawn<B::ErrorType> {
        self.inner.draw_path(path, style)
    }

    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Drawn<B::ErrorType> {
        self.inner.draw_circle(center, radius, style, fill)
    }

    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Drawn<B::ErrorType> {
        self.inner.fill_polygon(vert, style)
    }

    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        size: (u32, u32),
        src: &[u8],
    ) -> Drawn<B::ErrorType> {
        self.inner.blit_bitmap(pos, size, src)
    }

    fn draw_text<S: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &S,
        pos: BackendCoord,
    ) -> Drawn<B::ErrorType> {
        let color = style.color();
        if color.alpha == 0.0 {
            return Ok(());
        }
        let size = style.size();
        let (w, h) = self.measure(size, text);
        let anchor = style.anchor();
        let dx = match anchor.h_pos {
            HPos::Left => 0,
            HPos::Right => -w,
            HPos::Center => -w / 2,
        };
        let dy = match anchor.v_pos {
            VPos::Top => 0,
            VPos::Center => -h / 2,
            VPos::Bottom => -h,
        };
        let transform = style.transform();
        let (width, height) = self.inner.get_size();
        let scale = PxScale::from(size as f32);
        let (font, inner) = (&self.font, &mut self.inner);
        let scaled = font.as_scaled(scale);
        let mut x = 0.0;
        let mut prev = None;
        for c in text.chars() {
            let id = scaled.glyph_id(c);
            if let Some(p) = prev {
                x += scaled.kern(p, id);
            }
            let glyph = id.with_scale_and_position(scale, point(x, scaled.ascent()));
            if let Some(outline) = font.outline_glyph(glyph) {
                let bounds = outline.px_bounds();
                let mut drawn = Ok(());
                outline.draw(|gx, gy, coverage| {
                    if drawn.is_err() || coverage <= 0.0 {
                        return;
                    }
                    let px = bounds.min.x as i32 + gx as i32 + dx;
                    let py = bounds.min.y as i32 + gy as i32 + dy;
                    let (tx, ty) = transform.transform(px, py);
                    let (qx, qy) = (pos.0 + tx, pos.1 + ty);
                    if qx >= 0 && qy >= 0 && (qx as u32) < width && (qy as u32) < height {
                        drawn = inner.draw_pixel((qx, qy), color.mix(coverage.min(1.0) as f64));
                    }
                });
                drawn?;
            }
            x += scaled.h_advance(id);
            prev = Some(id);
        }
        Ok(())
    }

    fn estimate_text_size<S: BackendTextStyle>(
        &self,
        text: &str,
        style: &S,
    ) -> Result<(u32, u32), DrawingErrorKind<B::ErrorType>> {
        let (w, h) = self.measure(style.size(), text);
        Ok((w.max(0) as u32, h.max(0) as u32))
    }
}
