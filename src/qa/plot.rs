//! The dashboard: one PNG of eight panels a person can read at a glance.
//!
//! Title: the group and its verdict (green ok, orange warn, red bad), and
//! the one-line summary. Panels, left to right and top to bottom:
//! autocorrelation power per antenna against frequency (dB); the mean
//! cross-correlation amplitude as a time x frequency waterfall; the
//! flagged fraction per antenna and subband; the flagged and NaN fraction
//! per subband; amplitude and phase against frequency on the calibrator
//! field for a few baselines; the nsamples deficit per integration; the
//! problems found. Text is drawn by [`TextBackend`] with the Hack font
//! built into the binary, so no system font or fontconfig is needed.

use std::error::Error;
use std::path::Path;

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::report::{temporary_beside, CalibratorStats, QaReport};
use super::text::TextBackend;
use super::verdict::{median, ProblemKind, Verdict};
use super::QaError;

/// Width and height of the dashboard, pixels.
pub const PNG_SIZE: (u32, u32) = (1600, 1800);

/// The font family asked for (the one font [`TextBackend`] has).
const FONT: &str = "sans-serif";

type Area<'a> = DrawingArea<TextBackend<BitMapBackend<'a>>, Shift>;
type Drawn = Result<(), Box<dyn Error>>;
type Chart<'a, 'b> =
    ChartContext<'a, TextBackend<BitMapBackend<'b>>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Draw the dashboard of `report` into the PNG `path` (written under a
/// temporary name, then renamed).
pub fn render_png(report: &QaReport, path: &Path) -> Result<(), QaError> {
    let tmp = temporary_beside(path);
    draw(report, &tmp).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        QaError::Plot {
            path: path.to_path_buf(),
            what: e.to_string(),
        }
    })?;
    std::fs::rename(&tmp, path).map_err(|source| QaError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn draw(report: &QaReport, path: &Path) -> Drawn {
    let root = TextBackend::new(BitMapBackend::new(path, PNG_SIZE))?.into_drawing_area();
    root.fill(&WHITE)?;
    let (top, body) = root.split_vertically(80);
    title(&top, report)?;
    let panels = body.split_evenly((4, 2));
    auto_power(&panels[0], report)?;
    waterfall(&panels[1], report)?;
    flag_heatmap(&panels[2], report)?;
    subband_fractions(&panels[3], report)?;
    calibrator_amp(&panels[4], report)?;
    calibrator_phase(&panels[5], report)?;
    nsamples_deficit(&panels[6], report)?;
    problem_list(&panels[7], report)?;
    root.present()?;
    Ok(())
}

fn verdict_color(v: Verdict) -> RGBColor {
    match v {
        Verdict::Ok => RGBColor(0, 140, 60),
        Verdict::Warn => RGBColor(230, 130, 0),
        Verdict::Bad => RGBColor(210, 20, 20),
    }
}

fn title(area: &Area, r: &QaReport) -> Drawn {
    let big = (FONT, 30).into_font().color(&verdict_color(r.verdict));
    area.draw_text(
        &format!(
            "DSA-110 QA  {}   verdict: {}",
            r.group,
            r.verdict.as_str().to_uppercase()
        ),
        &big,
        (16, 8),
    )?;
    let small = (FONT, 16).into_font().color(&BLACK);
    let line = format!(
        "{} antennas, {} integrations, {} subbands x {} channels, {} pols ({}): {}",
        r.n_antennas,
        r.n_integrations,
        r.n_subbands,
        r.n_channels / r.n_subbands.max(1),
        r.n_polarizations,
        r.input,
        r.summary
    );
    area.draw_text(&clip(&line, 150), &small, (16, 50))?;
    Ok(())
}

/// A legend label padded for plotters' legend box, which it sizes by a
/// rough estimate of the text (about 0.46 em a character, Hack's are 0.6).
fn legend(label: String) -> String {
    let pad = label.chars().count() / 3 + 1;
    format!("{label}{}", " ".repeat(pad))
}

/// An axis label with about three significant digits.
fn tick(v: &f64) -> String {
    match v.abs() {
        a if a >= 100.0 || a == 0.0 => format!("{v:.0}"),
        a if a >= 10.0 => format!("{v:.1}"),
        a if a >= 0.01 => format!("{v:.2}"),
        _ => format!("{v:.1e}"),
    }
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}...", s.chars().take(n - 3).collect::<String>())
    }
}

/// Finite min and max of `values`, widened when equal or absent.
fn range(values: impl IntoIterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .into_iter()
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if !lo.is_finite() {
        (0.0, 1.0)
    } else if hi - lo < 1e-9 * lo.abs().max(1.0) {
        (lo - 0.5 * lo.abs().max(1.0), hi + 0.5 * hi.abs().max(1.0))
    } else {
        (lo, hi)
    }
}

fn freq_range_mhz(r: &QaReport) -> (f64, f64) {
    let (lo, hi) = range(r.freq_hz.iter().map(|f| f / 1e6));
    let pad = 0.01 * (hi - lo);
    (lo - pad, hi + pad)
}

/// Runs of consecutive finite points: a line breaks where there are no data.
fn runs(points: impl IntoIterator<Item = (f64, f64)>) -> Vec<Vec<(f64, f64)>> {
    let mut out: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
    for (x, y) in points {
        if x.is_finite() && y.is_finite() {
            out.last_mut().expect("one run").push((x, y));
        } else if !out.last().expect("one run").is_empty() {
            out.push(Vec::new());
        }
    }
    out.retain(|r| !r.is_empty());
    out
}

fn caption_style() -> TextStyle<'static> {
    (FONT, 18).into_font().color(&BLACK)
}

/// Antennas named by a problem of `kind`.
fn antennas_with(r: &QaReport, kind: ProblemKind) -> Vec<u32> {
    r.problems
        .iter()
        .filter(|p| p.kind == kind)
        .filter_map(|p| p.antenna.as_ref().map(|a| a.number))
        .collect()
}

fn auto_power(area: &Area, r: &QaReport) -> Drawn {
    let db = |p: f64| if p > 0.0 { 10.0 * p.log10() } else { f64::NAN };
    let (x0, x1) = freq_range_mhz(r);
    let (y0, y1) = range(
        r.antennas
            .iter()
            .flat_map(|a| a.auto_spectrum.iter().map(|&p| db(p))),
    );
    // At least 6 dB tall: the noise of a healthy array should look flat.
    let mid = 0.5 * (y0 + y1);
    let (y0, y1) = (y0.min(mid - 3.0), y1.max(mid + 3.0));
    let pad = 0.05 * (y1 - y0);
    let mut chart = ChartBuilder::on(area)
        .caption("Autocorrelation power per antenna", caption_style())
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(x0..x1, (y0 - pad)..(y1 + pad))?;
    chart
        .configure_mesh()
        .x_desc("Frequency (MHz)")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_desc("Power (dB, data units)")
        .y_label_formatter(&tick)
        .label_style((FONT, 12))
        .axis_desc_style((FONT, 14))
        .light_line_style(TRANSPARENT)
        .draw()?;
    let dead = antennas_with(r, ProblemKind::DeadAntenna);
    let low = antennas_with(r, ProblemKind::LowAntenna);
    for (i, a) in r.antennas.iter().enumerate() {
        let flagged = dead.contains(&a.number) || low.contains(&a.number);
        let style = if flagged {
            RED.stroke_width(3)
        } else {
            Palette99::pick(i).mix(0.7).stroke_width(1)
        };
        let points = r
            .freq_hz
            .iter()
            .zip(&a.auto_spectrum)
            .map(|(f, &p)| (f / 1e6, db(p)));
        for (k, run) in runs(points).into_iter().enumerate() {
            let series = chart.draw_series(LineSeries::new(run, style))?;
            if flagged && k == 0 {
                let what = if dead.contains(&a.number) {
                    "dead"
                } else {
                    "low"
                };
                series
                    .label(legend(format!("antenna {} ({what})", a.number)))
                    .legend(|(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], RED.stroke_width(3))
                    });
            }
        }
    }
    if !dead.is_empty() || !low.is_empty() {
        legend_box(&mut chart, SeriesLabelPosition::LowerRight)?;
    }
    Ok(())
}

/// A perceptually ordered colour map (viridis, five stops) at `t` in [0, 1].
fn viridis(t: f64) -> RGBColor {
    const STOPS: [(f64, f64, f64); 5] = [
        (68.0, 1.0, 84.0),
        (59.0, 82.0, 139.0),
        (33.0, 145.0, 140.0),
        (94.0, 201.0, 98.0),
        (253.0, 231.0, 37.0),
    ];
    let t = t.clamp(0.0, 1.0) * (STOPS.len() - 1) as f64;
    let i = (t.floor() as usize).min(STOPS.len() - 2);
    let f = t - i as f64;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    let mix = |x: f64, y: f64| (x + f * (y - x)).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// White (0) to red (1).
fn reds(t: f64) -> RGBColor {
    let t = t.clamp(0.0, 1.0);
    let g = (255.0 * (1.0 - t)).round() as u8;
    RGBColor(255, g, (255.0 * (1.0 - t)).round() as u8)
}

const NO_DATA: RGBColor = RGBColor(190, 190, 190);

/// A vertical colour bar for `map` over `lo..hi` on the right of `area`.
fn colorbar(area: &Area, label: &str, lo: f64, hi: f64, map: fn(f64) -> RGBColor) -> Drawn {
    let mut chart = ChartBuilder::on(area)
        .margin_top(40)
        .margin_bottom(50)
        .margin_right(5)
        .y_label_area_size(50)
        .build_cartesian_2d(0.0..1.0, lo..hi)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .disable_x_axis()
        .y_desc(label)
        .y_label_formatter(&tick)
        .label_style((FONT, 11))
        .axis_desc_style((FONT, 12))
        .light_line_style(TRANSPARENT)
        .bold_line_style(TRANSPARENT)
        .draw()?;
    let steps = 64;
    chart.draw_series((0..steps).map(|k| {
        let (a, b) = (k as f64 / steps as f64, (k + 1) as f64 / steps as f64);
        Rectangle::new(
            [(0.0, lo + a * (hi - lo)), (1.0, lo + b * (hi - lo))],
            map(0.5 * (a + b)).filled(),
        )
    }))?;
    Ok(())
}

/// Median spacing of consecutive finite values (channel width, integration).
fn spacing(values: &[f64], default: f64) -> f64 {
    let d: Vec<f64> = values.windows(2).map(|w| (w[1] - w[0]).abs()).collect();
    median(&d).filter(|&s| s > 0.0).unwrap_or(default)
}

fn waterfall(area: &Area, r: &QaReport) -> Drawn {
    let (plot, bar) = area.split_horizontally(area.dim_in_pixel().0 - 110);
    let t0 = r.time_jd.first().copied().unwrap_or(0.0);
    let t_s: Vec<f64> = r.time_jd.iter().map(|t| (t - t0) * 86_400.0).collect();
    let dt = spacing(&t_s, crate::telescope::INTEGRATION_TIME_S);
    let f_mhz: Vec<f64> = r.freq_hz.iter().map(|f| f / 1e6).collect();
    let df = spacing(&f_mhz, 1.0);
    let (x0, x1) = freq_range_mhz(r);
    let y1 = t_s.last().copied().unwrap_or(0.0) + dt / 2.0;
    let values: Vec<f64> = r.cross_amp_waterfall.iter().flatten().copied().collect();
    // Colour scale to twice the median, so that RFI saturates and the
    // ordinary data keep their contrast.
    let hi = median(&values)
        .map_or(1.0, |m| 2.0 * m)
        .max(f64::MIN_POSITIVE);
    let mut chart = ChartBuilder::on(&plot)
        .caption("Mean cross-correlation amplitude", caption_style())
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(x0..x1, (-dt / 2.0)..y1)?;
    chart
        .configure_mesh()
        .x_desc("Frequency (MHz)")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_desc("Time since first integration (s)")
        .y_label_formatter(&|y| format!("{y:.0}"))
        .label_style((FONT, 12))
        .axis_desc_style((FONT, 14))
        .light_line_style(TRANSPARENT)
        .bold_line_style(TRANSPARENT)
        .draw()?;
    let cells = r
        .cross_amp_waterfall
        .iter()
        .enumerate()
        .flat_map(|(t, row)| {
            let (t_s, f_mhz) = (&t_s, &f_mhz);
            row.iter().enumerate().filter_map(move |(c, &v)| {
                let f = f_mhz[c];
                f.is_finite().then(|| {
                    let color = if v.is_finite() {
                        viridis(v / hi)
                    } else {
                        NO_DATA
                    };
                    Rectangle::new(
                        [
                            (f - df / 2.0, t_s[t] - dt / 2.0),
                            (f + df / 2.0, t_s[t] + dt / 2.0),
                        ],
                        color.filled(),
                    )
                })
            })
        });
    chart.draw_series(cells)?;
    colorbar(&bar, "Amplitude (data units)", 0.0, hi, viridis)
}

fn flag_heatmap(area: &Area, r: &QaReport) -> Drawn {
    let (plot, bar) = area.split_horizontally(area.dim_in_pixel().0 - 110);
    let (n_sb, n_ant) = (r.n_subbands.max(1), r.antennas.len().max(1));
    let names: Vec<String> = r.subbands.iter().map(|s| s.name.clone()).collect();
    let numbers: Vec<u32> = r.antennas.iter().map(|a| a.number).collect();
    let mut chart = ChartBuilder::on(&plot)
        .caption("Flagged fraction per antenna and subband", caption_style())
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..n_sb as f64, 0.0..n_ant as f64)?;
    let sb_label = |x: &f64| names.get(x.floor() as usize).cloned().unwrap_or_default();
    let ant_label = |y: &f64| {
        numbers
            .get(y.floor() as usize)
            .map(|n| n.to_string())
            .unwrap_or_default()
    };
    chart
        .configure_mesh()
        .x_desc("Subband (ascending frequency)")
        .y_desc("Antenna number")
        .x_labels(n_sb.min(16))
        .y_labels(n_ant.min(12))
        .x_label_formatter(&sb_label)
        .y_label_formatter(&ant_label)
        .label_style((FONT, 11))
        .axis_desc_style((FONT, 14))
        .light_line_style(TRANSPARENT)
        .bold_line_style(TRANSPARENT)
        .draw()?;
    let cells = r.antennas.iter().enumerate().flat_map(|(i, a)| {
        a.flagged_fraction_by_subband
            .iter()
            .enumerate()
            .map(move |(k, &f)| {
                let color = if f.is_finite() { reds(f) } else { NO_DATA };
                Rectangle::new(
                    [(k as f64, i as f64), (k as f64 + 1.0, i as f64 + 1.0)],
                    color.filled(),
                )
            })
    });
    chart.draw_series(cells)?;
    colorbar(&bar, "Flagged fraction", 0.0, 1.0, reds)
}

fn subband_fractions(area: &Area, r: &QaReport) -> Drawn {
    let n_sb = r.n_subbands.max(1);
    let names: Vec<String> = r.subbands.iter().map(|s| s.name.clone()).collect();
    let mut chart = ChartBuilder::on(area)
        .caption("Flagged and NaN fraction per subband", caption_style())
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..n_sb as f64, 0.0..1.05)?;
    let sb_label = |x: &f64| names.get(x.floor() as usize).cloned().unwrap_or_default();
    chart
        .configure_mesh()
        .x_desc("Subband (ascending frequency)")
        .y_desc("Fraction of cells")
        .y_label_formatter(&|y| format!("{y:.1}"))
        .x_labels(n_sb.min(16))
        .x_label_formatter(&sb_label)
        .label_style((FONT, 11))
        .axis_desc_style((FONT, 14))
        .light_line_style(TRANSPARENT)
        .draw()?;
    let flagged = RGBColor(240, 140, 40);
    let nan = RGBColor(120, 40, 160);
    let missing = |f: f64| if f.is_finite() { f } else { 0.0 };
    chart
        .draw_series(r.subbands.iter().map(|s| {
            let k = s.index as f64;
            Rectangle::new(
                [(k + 0.1, 0.0), (k + 0.5, missing(s.flagged_fraction))],
                flagged.filled(),
            )
        }))?
        .label(legend("flagged".into()))
        .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], flagged.filled()));
    chart
        .draw_series(r.subbands.iter().map(|s| {
            let k = s.index as f64;
            Rectangle::new(
                [(k + 0.5, 0.0), (k + 0.9, missing(s.nan_fraction))],
                nan.filled(),
            )
        }))?
        .label(legend("NaN".into()))
        .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], nan.filled()));
    legend_box(&mut chart, SeriesLabelPosition::UpperRight)?;
    Ok(())
}

/// An empty panel with a caption and a line of text.
fn empty_panel(area: &Area, caption: &str, text: &str) -> Drawn {
    let (w, h) = area.dim_in_pixel();
    area.draw_text(caption, &caption_style(), (20, 10))?;
    area.draw_text(
        text,
        &(FONT, 16).into_font().color(&RGBColor(110, 110, 110)),
        (40, h as i32 / 2),
    )?;
    area.draw(&Rectangle::new(
        [(10, 36), (w as i32 - 10, h as i32 - 10)],
        RGBColor(200, 200, 200).stroke_width(1),
    ))?;
    Ok(())
}

fn calibrator_amp(area: &Area, r: &QaReport) -> Drawn {
    let Some(cal) = &r.calibrator else {
        return empty_panel(
            area,
            "Calibrator amplitude",
            "no calibrator field in this group",
        );
    };
    let (x0, x1) = freq_range_mhz(r);
    // To 2.5 times the median amplitude: an RFI spike is clipped rather
    // than flattening the calibrator's spectrum.
    let amps: Vec<f64> = cal
        .baselines
        .iter()
        .flat_map(|b| b.amp.iter().copied())
        .collect();
    let (_, top) = range(amps.iter().copied());
    let y1 = median(&amps)
        .map_or(top, |m| (2.5 * m).min(top))
        .max(f64::MIN_POSITIVE);
    let mut chart = calibrator_chart(
        area,
        cal,
        ("amplitude", "Amplitude (data units)"),
        (x0..x1, 0.0..(1.1 * y1)),
        (10, &tick),
    )?;
    for (i, b) in cal.baselines.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let points = r.freq_hz.iter().zip(&b.amp).map(|(f, &a)| (f / 1e6, a));
        for (k, run) in runs(points).into_iter().enumerate() {
            let series = chart.draw_series(LineSeries::new(run, color.stroke_width(2)))?;
            if k == 0 {
                series
                    .label(legend(format!("{}-{}", b.ant1, b.ant2)))
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                    });
            }
        }
    }
    legend_box(&mut chart, SeriesLabelPosition::LowerRight)?;
    Ok(())
}

/// A calibrator panel's chart: caption `what` (and `y_desc` on the y
/// axis) over `ranges`, `y_labels` ticks formatted by `y_fmt`.
fn calibrator_chart<'a, 'b>(
    area: &'a Area<'b>,
    cal: &CalibratorStats,
    (what, y_desc): (&str, &str),
    (x, y): (std::ops::Range<f64>, std::ops::Range<f64>),
    (y_labels, y_fmt): (usize, &dyn Fn(&f64) -> String),
) -> Result<Chart<'a, 'b>, Box<dyn Error>> {
    let caption = format!(
        "Calibrator {} (integration {}): {what}",
        cal.name, cal.integration
    );
    let mut chart = ChartBuilder::on(area)
        .caption(caption, caption_style())
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(x, y)?;
    chart
        .configure_mesh()
        .x_desc("Frequency (MHz)")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_desc(y_desc)
        .y_label_formatter(y_fmt)
        .y_labels(y_labels)
        .label_style((FONT, 12))
        .axis_desc_style((FONT, 14))
        .light_line_style(TRANSPARENT)
        .draw()?;
    Ok(chart)
}

/// The legend box of a panel, at `at`.
fn legend_box<'a, 'b: 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, TextBackend<BitMapBackend<'b>>, CT>,
    at: SeriesLabelPosition,
) -> Drawn {
    chart
        .configure_series_labels()
        .label_font((FONT, 13))
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(at)
        .draw()?;
    Ok(())
}

fn calibrator_phase(area: &Area, r: &QaReport) -> Drawn {
    let Some(cal) = &r.calibrator else {
        return empty_panel(
            area,
            "Calibrator phase",
            "no calibrator field in this group",
        );
    };
    let (x0, x1) = freq_range_mhz(r);
    let mut chart = calibrator_chart(
        area,
        cal,
        ("phase", "Phase (deg)"),
        (x0..x1, -180.0..180.0),
        (9, &|y| format!("{y:.0}")),
    )?;
    for (i, b) in cal.baselines.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let points: Vec<(f64, f64)> = r
            .freq_hz
            .iter()
            .zip(&b.phase_deg)
            .map(|(f, &p)| (f / 1e6, p))
            .filter(|(f, p)| f.is_finite() && p.is_finite())
            .collect();
        chart
            .draw_series(
                points
                    .into_iter()
                    .map(|p| Circle::new(p, 2, color.filled())),
            )?
            .label(legend(format!("{}-{}", b.ant1, b.ant2)))
            .legend(move |(x, y)| Circle::new((x + 10, y), 4, color.filled()));
    }
    legend_box(&mut chart, SeriesLabelPosition::LowerRight)?;
    Ok(())
}

fn nsamples_deficit(area: &Area, r: &QaReport) -> Drawn {
    let n = r.n_integrations.max(1);
    let mut chart = ChartBuilder::on(area)
        .caption("nsamples deficit per integration", caption_style())
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(-0.5..(n as f64 - 0.5), 0.0..1.05)?;
    chart
        .configure_mesh()
        .x_desc("Integration (index)")
        .y_desc("1 - nsamples / fullest")
        .y_label_formatter(&|y| format!("{y:.1}"))
        .x_labels(n.min(24))
        .x_label_formatter(&|x| format!("{:.0}", x))
        .label_style((FONT, 12))
        .axis_desc_style((FONT, 14))
        .light_line_style(TRANSPARENT)
        .draw()?;
    let limit = r.thresholds.partial_deficit;
    chart.draw_series(r.integrations.iter().map(|i| {
        let k = i.index as f64;
        let color = if i.nsamples_deficit > limit {
            RED
        } else {
            RGBColor(60, 110, 200)
        };
        Rectangle::new(
            [(k - 0.35, 0.0), (k + 0.35, i.nsamples_deficit)],
            color.filled(),
        )
    }))?;
    chart
        .draw_series(LineSeries::new(
            [(-0.5, limit), (n as f64 - 0.5, limit)],
            RED.mix(0.6).stroke_width(1),
        ))?
        .label(legend(format!("partial above {limit}")))
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED.stroke_width(1)));
    legend_box(&mut chart, SeriesLabelPosition::UpperLeft)?;
    Ok(())
}

fn problem_list(area: &Area, r: &QaReport) -> Drawn {
    area.draw_text("Problems", &caption_style(), (20, 10))?;
    let (w, h) = area.dim_in_pixel();
    area.draw(&Rectangle::new(
        [(10, 36), (w as i32 - 10, h as i32 - 10)],
        RGBColor(200, 200, 200).stroke_width(1),
    ))?;
    if r.problems.is_empty() {
        area.draw_text(
            "none: every check passed",
            &(FONT, 16).into_font().color(&verdict_color(Verdict::Ok)),
            (24, 50),
        )?;
        return Ok(());
    }
    let lines = ((h as i32 - 60) / 22).max(1) as usize;
    for (k, p) in r.problems.iter().take(lines).enumerate() {
        let color = match p.severity {
            super::Severity::Bad => verdict_color(Verdict::Bad),
            super::Severity::Warn => verdict_color(Verdict::Warn),
        };
        let text = format!("{:4} {}", p.severity.as_str(), p.message);
        area.draw_text(
            &clip(&text, 86),
            &(FONT, 14).into_font().color(&color),
            (24, 48 + 22 * k as i32),
        )?;
    }
    if r.problems.len() > lines {
        area.draw_text(
            &format!("... and {} more (see the JSON)", r.problems.len() - lines),
            &(FONT, 14).into_font().color(&BLACK),
            (24, 48 + 22 * lines as i32),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_break_where_there_are_no_data() {
        let r = runs([(0.0, 1.0), (1.0, f64::NAN), (2.0, 2.0), (3.0, 3.0)]);
        assert_eq!(r, vec![vec![(0.0, 1.0)], vec![(2.0, 2.0), (3.0, 3.0)]]);
    }

    #[test]
    fn colour_maps_span_their_stops() {
        assert_eq!(viridis(0.0), RGBColor(68, 1, 84));
        assert_eq!(viridis(1.0), RGBColor(253, 231, 37));
        assert_eq!(reds(0.0), WHITE);
        assert_eq!(reds(1.0), RGBColor(255, 0, 0));
    }
}
