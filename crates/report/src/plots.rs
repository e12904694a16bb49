//! SVG plots drawn with plotters. Colours are a pure function of the class id, so a class has
//! the same colour in every plot of every report.

use attrclust_core::Dataset;
use plotters::prelude::*;

const PALETTE: [(u8, u8, u8); 12] = [
    (0x1f, 0x77, 0xb4),
    (0xff, 0x7f, 0x0e),
    (0x2c, 0xa0, 0x2c),
    (0xd6, 0x27, 0x28),
    (0x94, 0x67, 0xbd),
    (0x8c, 0x56, 0x4b),
    (0xe3, 0x77, 0xc2),
    (0x7f, 0x7f, 0x7f),
    (0xbc, 0xbd, 0x22),
    (0x17, 0xbe, 0xcf),
    (0x39, 0x3b, 0x79),
    (0xad, 0x49, 0x4a),
];

/// The colour of a class id (or cluster id), as `#rrggbb`.
pub fn class_color(id: i64) -> String {
    let (r, g, b) = rgb(id);
    format!("#{r:02x}{g:02x}{b:02x}")
}

fn rgb(id: i64) -> (u8, u8, u8) {
    if id < 0 {
        return (0xbb, 0xbb, 0xbb); // noise
    }
    let base = PALETTE[(id as usize) % PALETTE.len()];
    // Beyond twelve classes, darken each further round so colours stay distinct.
    let round = (id as usize / PALETTE.len()) as u32;
    let f = |c: u8| (c as u32 / (1 + round)) as u8;
    (f(base.0), f(base.1), f(base.2))
}

fn plot_error(e: impl std::fmt::Display) -> attrclust_core::Error {
    attrclust_core::Error::run(format!("cannot draw a plot: {e}"))
}

fn padded_range(values: impl Iterator<Item = f64>) -> std::ops::Range<f64> {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if !lo.is_finite() {
        return -1.0..1.0;
    }
    let pad = ((hi - lo) * 0.05).max(1e-9);
    (lo - pad)..(hi + pad)
}

/// Scatter of the first two columns of `d`, coloured by `colour_ids[i]` (class or cluster),
/// with a legend of `legend` entries (id, name) to the right.
pub fn scatter(
    d: &Dataset,
    colour_ids: &[i64],
    legend: &[(i64, String)],
    title: &str,
) -> attrclust_core::Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (760, 480)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let (left, right) = root.split_horizontally(540);
        let xs = d.x.column(0);
        let has_y = d.n_features() > 1;
        let y_of = |r: usize| if has_y { d.x[[r, 1]] } else { 0.0 };
        let x_range = padded_range(xs.iter().copied());
        let y_range = padded_range((0..d.n_samples()).map(y_of));
        let mut chart = ChartBuilder::on(&left)
            .caption(title, ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(48)
            .build_cartesian_2d(x_range, y_range)
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .light_line_style(WHITE)
            .x_desc(d.columns.first().cloned().unwrap_or_default())
            .y_desc(d.columns.get(1).cloned().unwrap_or_default())
            .draw()
            .map_err(plot_error)?;
        // Draw class by class (in id order) so overlaps are deterministic.
        for (id, _) in legend {
            let (r, g, b) = rgb(*id);
            let color = RGBColor(r, g, b).mix(0.75);
            chart
                .draw_series(
                    (0..d.n_samples())
                        .filter(|&i| colour_ids[i] == *id)
                        .map(|i| Circle::new((d.x[[i, 0]], y_of(i)), 2, color.filled())),
                )
                .map_err(plot_error)?;
        }
        for (k, (id, name)) in legend.iter().enumerate() {
            let y = 40 + 20 * k as i32;
            let (r, g, b) = rgb(*id);
            right
                .draw(&Circle::new((12, y), 5, RGBColor(r, g, b).filled()))
                .map_err(plot_error)?;
            right
                .draw(&Text::new(
                    name.clone(),
                    (24, y - 7),
                    ("sans-serif", 13).into_font(),
                ))
                .map_err(plot_error)?;
        }
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

/// Metric curves over a swept parameter: one line per metric.
pub fn sweep_curve(
    x_label: &str,
    series: &[(String, Vec<(f64, f64)>)],
) -> attrclust_core::Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (560, 320)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let points = series.iter().flat_map(|(_, p)| p.iter());
        let x_range = padded_range(points.clone().map(|p| p.0));
        let y_range = padded_range(points.map(|p| p.1));
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(48)
            .build_cartesian_2d(x_range, y_range)
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .light_line_style(WHITE)
            .x_desc(x_label)
            .draw()
            .map_err(plot_error)?;
        for (k, (name, pts)) in series.iter().enumerate() {
            let (r, g, b) = rgb(k as i64);
            let color = RGBColor(r, g, b);
            chart
                .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))
                .map_err(plot_error)?
                .label(name.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
            chart
                .draw_series(pts.iter().map(|&p| Circle::new(p, 3, color.filled())))
                .map_err(plot_error)?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .position(SeriesLabelPosition::LowerRight)
            .draw()
            .map_err(plot_error)?;
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

/// The top of a merge tree (SciPy numbering: leaves 0..n, merge i makes n + i), truncated to its
/// last `max_leaves − 1` merges; earlier subtrees are leaves labelled with their size.
pub fn dendrogram(
    n: usize,
    merges: &[(usize, usize, f64, usize)],
    max_leaves: usize,
    title: &str,
) -> attrclust_core::Result<String> {
    let kept = merges.len().min(max_leaves.saturating_sub(1)).max(1);
    let first = merges.len() - kept;
    let size_of = |node: usize| if node < n { 1 } else { merges[node - n].3 };
    // Leaf order: depth first from the root, left before right.
    let mut leaves = Vec::new();
    let mut stack = vec![n + merges.len() - 1];
    while let Some(node) = stack.pop() {
        if node >= n + first {
            let (a, b, _, _) = merges[node - n];
            stack.push(b);
            stack.push(a);
        } else {
            leaves.push(node);
        }
    }
    let mut x = std::collections::HashMap::new();
    for (i, &leaf) in leaves.iter().enumerate() {
        x.insert(leaf, i as f64);
    }
    let height = |node: usize| {
        if node >= n + first {
            merges[node - n].2
        } else {
            0.0
        }
    };
    let top = merges.last().map_or(1.0, |m| m.2).max(f64::MIN_POSITIVE);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (760, 360)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(56)
            .build_cartesian_2d(-0.5..(leaves.len() as f64 - 0.5), 0.0..top * 1.05)
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(WHITE)
            .x_labels(0)
            .y_desc("merge distance")
            .x_desc("leaves: samples, or (size) for truncated subtrees")
            .draw()
            .map_err(plot_error)?;
        for (i, &(a, b, d, _)) in merges.iter().enumerate().skip(first) {
            let (xa, xb) = (x[&a], x[&b]);
            x.insert(n + i, (xa + xb) / 2.0);
            let path = vec![(xa, height(a)), (xa, d), (xb, d), (xb, height(b))];
            chart
                .draw_series(std::iter::once(PathElement::new(
                    path,
                    BLACK.stroke_width(1),
                )))
                .map_err(plot_error)?;
        }
        if leaves.len() <= 60 {
            for (i, &leaf) in leaves.iter().enumerate() {
                let label = if leaf < n {
                    leaf.to_string()
                } else {
                    format!("({})", size_of(leaf))
                };
                chart
                    .draw_series(std::iter::once(Text::new(
                        label,
                        (i as f64, 0.0),
                        ("sans-serif", 9)
                            .into_font()
                            .transform(FontTransform::Rotate270),
                    )))
                    .map_err(plot_error)?;
            }
        }
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

/// Points drawn per cluster in a silhouette plot: larger clusters are drawn through evenly spaced
/// order statistics of their sorted values, so the SVG stays small for 100,000 samples.
const SILHOUETTE_POINTS: usize = 200;

/// The classic silhouette plot (Rousseeuw 1987): for each cluster its samples' silhouette values,
/// sorted, as a filled band whose height is the cluster's size; a dashed line marks the mean.
pub fn silhouette(
    assignments: &[i64],
    values: &[f64],
    mean: f64,
    title: &str,
) -> attrclust_core::Result<String> {
    let mut ids: Vec<i64> = assignments.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let n = assignments.len();
    let gap = (n as f64 * 0.01).max(1.0);
    let lo = values.iter().copied().fold(0.0f64, f64::min).max(-1.0);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (760, 420)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let height = n as f64 + gap * (ids.len() as f64 + 1.0);
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(70)
            .build_cartesian_2d((lo - 0.05)..1.0, 0.0..height)
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .light_line_style(WHITE)
            .y_labels(0)
            .x_desc("silhouette value")
            .y_desc("samples by cluster")
            .draw()
            .map_err(plot_error)?;
        let mut y = gap;
        for &id in &ids {
            let mut own: Vec<f64> = assignments
                .iter()
                .zip(values)
                .filter(|(a, _)| **a == id)
                .map(|(_, v)| *v)
                .collect();
            own.sort_by(|a, b| b.total_cmp(a));
            let size = own.len() as f64;
            let steps = own.len().min(SILHOUETTE_POINTS);
            let mut outline = vec![(0.0, y)];
            for s in 0..steps {
                let i = if steps > 1 {
                    s * (own.len() - 1) / (steps - 1)
                } else {
                    0
                };
                let at = y + size * (s as f64 + 0.5) / steps as f64;
                outline.push((own[i], at));
            }
            outline.push((0.0, y + size));
            let (r, g, b) = rgb(id);
            chart
                .draw_series(std::iter::once(Polygon::new(
                    outline,
                    RGBColor(r, g, b).mix(0.8).filled(),
                )))
                .map_err(plot_error)?;
            let label = if id < 0 {
                "noise".to_string()
            } else {
                format!("cluster {id}")
            };
            chart
                .draw_series(std::iter::once(Text::new(
                    label,
                    (lo - 0.04, y + size / 2.0),
                    ("sans-serif", 11).into_font(),
                )))
                .map_err(plot_error)?;
            y += size + gap;
        }
        chart
            .draw_series(DashedLineSeries::new(
                vec![(mean, 0.0), (mean, height)],
                6,
                4,
                RED.stroke_width(1),
            ))
            .map_err(plot_error)?;
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

/// Scree plot of a PCA: each component's explained variance ratio as a bar, and the cumulative
/// ratio as a line.
pub fn scree(ratio: &[f64], title: &str) -> attrclust_core::Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (560, 320)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let k = ratio.len();
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(48)
            .build_cartesian_2d(0.5..(k as f64 + 0.5), 0.0..1.05)
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .light_line_style(WHITE)
            .x_desc("component")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_desc("explained variance ratio")
            .draw()
            .map_err(plot_error)?;
        let (r, g, b) = rgb(0);
        chart
            .draw_series(ratio.iter().enumerate().map(|(i, &v)| {
                let x = i as f64 + 1.0;
                Rectangle::new([(x - 0.35, 0.0), (x + 0.35, v)], RGBColor(r, g, b).filled())
            }))
            .map_err(plot_error)?
            .label("per component")
            .legend(move |(x, y)| {
                Rectangle::new([(x, y - 4), (x + 12, y + 4)], RGBColor(r, g, b).filled())
            });
        let mut total = 0.0;
        let cumulative: Vec<(f64, f64)> = ratio
            .iter()
            .enumerate()
            .map(|(i, v)| {
                total += v;
                (i as f64 + 1.0, total)
            })
            .collect();
        let (r2, g2, b2) = rgb(1);
        let line = RGBColor(r2, g2, b2);
        chart
            .draw_series(LineSeries::new(
                cumulative.iter().copied(),
                line.stroke_width(2),
            ))
            .map_err(plot_error)?
            .label("cumulative")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], line));
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .position(SeriesLabelPosition::MiddleRight)
            .draw()
            .map_err(plot_error)?;
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

/// Diverging colour for `v` in [−1, 1]: blue (negative) through white to red (positive).
fn diverging(v: f64) -> RGBColor {
    let t = v.clamp(-1.0, 1.0);
    let mix = |a: u8, b: u8, f: f64| (a as f64 + (b as f64 - a as f64) * f).round() as u8;
    if t >= 0.0 {
        RGBColor(mix(255, 0xb2, t), mix(255, 0x18, t), mix(255, 0x2b, t))
    } else {
        RGBColor(mix(255, 0x21, -t), mix(255, 0x66, -t), mix(255, 0xac, -t))
    }
}

/// [`diverging`] as `#rrggbb`, for table cells.
pub fn diverging_hex(v: f64) -> String {
    let RGBColor(r, g, b) = diverging(v);
    format!("#{r:02x}{g:02x}{b:02x}")
}

/// A rows × columns heatmap of values scaled by the largest magnitude (diverging colours, so
/// positive and negative attributions read apart), row names on the left.
pub fn heatmap(
    rows: &[(String, Vec<f64>)],
    columns: &[String],
    x_desc: &str,
    title: &str,
) -> attrclust_core::Result<String> {
    let n_rows = rows.len().max(1);
    let n_cols = columns.len().max(1);
    let scale = rows
        .iter()
        .flat_map(|(_, v)| v.iter())
        .fold(0.0f64, |m, v| m.max(v.abs()))
        .max(f64::MIN_POSITIVE);
    let height = (60 + 18 * n_rows as u32).max(160);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (760, height)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let names: Vec<String> = rows.iter().map(|(n, _)| n.clone()).collect();
        // Segmented axes put each label at the centre of its cell.
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(170)
            // A segmented range a..b has a segment for every value a..=b.
            .build_cartesian_2d(
                (0..n_cols as i32 - 1).into_segmented(),
                (0..n_rows as i32 - 1).into_segmented(),
            )
            .map_err(plot_error)?;
        let label = |v: &SegmentValue<i32>, of: &dyn Fn(usize) -> String| match v {
            SegmentValue::CenterOf(i) if *i >= 0 => of(*i as usize),
            _ => String::new(),
        };
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(n_cols.min(16))
            .x_label_formatter(&|v| label(v, &|c| columns.get(c).cloned().unwrap_or_default()))
            .y_labels(n_rows)
            // Row 0 at the top.
            .y_label_formatter(&|v| {
                label(v, &|r| {
                    n_rows
                        .checked_sub(r + 1)
                        .and_then(|k| names.get(k))
                        .cloned()
                        .unwrap_or_default()
                })
            })
            .x_desc(x_desc)
            .draw()
            .map_err(plot_error)?;
        for (r, (_, values)) in rows.iter().enumerate() {
            let y = (n_rows - r - 1) as i32;
            chart
                .draw_series(values.iter().enumerate().map(|(c, v)| {
                    let x = c as i32;
                    Rectangle::new(
                        [
                            (SegmentValue::Exact(x), SegmentValue::Exact(y)),
                            (SegmentValue::Exact(x + 1), SegmentValue::Exact(y + 1)),
                        ],
                        diverging(v / scale).filled(),
                    )
                }))
                .map_err(plot_error)?;
        }
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}
