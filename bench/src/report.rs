//! What a run leaves behind: one JSON file per scenario (`<date>-<scenario>.json`),
//! the chart of latency against load for hearth and limit-server (`latency.svg`), and
//! a markdown table with the date, the machine and the command, ready for the README.
use std::{fmt::Write as _, path::Path};

use anyhow::Context;
use plotters::prelude::*;
use serde::Serialize;

use crate::{
    fleet::StepResult,
    scenarios::{Ratios, Scenario, ServerRun, Settings, TargetCheck},
    servers::ServerKind,
};

/// The machine and the moment of a run.
#[derive(Clone, Debug, Serialize)]
pub struct Machine {
    /// `YYYY-MM-DD`, UTC.
    pub date: String,
    pub cpu: String,
    /// Cores this process may use (what `nproc` prints).
    pub nproc: usize,
    /// `/proc/loadavg` when the run started: anything else busy on the machine shows here.
    pub load_average: String,
}

impl Machine {
    pub fn here() -> Self {
        let (cpu, nproc) = crate::procstat::machine();
        let load_average = std::fs::read_to_string("/proc/loadavg")
            .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
            .unwrap_or_default();
        Self {
            date: time::OffsetDateTime::now_utc().date().to_string(),
            cpu,
            nproc,
            load_average,
        }
    }
}

/// Everything one scenario measured, as written to its JSON file.
#[derive(Clone, Debug, Serialize)]
pub struct ScenarioReport {
    pub scenario: Scenario,
    pub machine: Machine,
    pub command: String,
    pub settings: Settings,
    pub hearth: Option<ServerRun>,
    pub limit_server: Option<ServerRun>,
    /// hearth / limit-server.
    pub ratios: Ratios,
    pub targets: Vec<TargetCheck>,
}

impl ScenarioReport {
    /// Writes `<dir>/<date>-<scenario>.json`; answers its path.
    pub fn write_json(&self, dir: &Path) -> anyhow::Result<std::path::PathBuf> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let path = dir.join(format!("{}-{}.json", self.machine.date, self.scenario.name));
        std::fs::write(&path, serde_json::to_string_pretty(self)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(path)
    }

    fn runs(&self) -> impl Iterator<Item = &ServerRun> {
        self.hearth.iter().chain(self.limit_server.iter())
    }
}

fn ms(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0} ms")
    } else {
        format!("{value:.1} ms")
    }
}

fn ratio(value: Option<f64>) -> String {
    value.map_or("–".to_owned(), |r| format!("**{r:.2}×**"))
}

/// `12,345`.
fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn max_rate(run: &ServerRun) -> String {
    match &run.find_max {
        Some(found) => match found.max_sustained_rate {
            Some(rate) if found.reached_cap => format!("≥ {} msg/s", thousands(rate)),
            Some(rate) => format!("{} msg/s", thousands(rate)),
            None => "none".to_owned(),
        },
        None => "–".to_owned(),
    }
}

/// The markdown section for the README: the tables of every scenario, the targets and
/// the command.
pub fn markdown(reports: &[ScenarioReport]) -> String {
    let mut md = String::new();
    let Some(first) = reports.first() else {
        return md;
    };
    let machine = &first.machine;
    let _ = writeln!(
        md,
        "Measured {} on {} (`nproc` = {}, load average {} at the start), the load generator on the same machine:\n\n    {}\n",
        machine.date, machine.cpu, machine.nproc, machine.load_average, first.command
    );

    let loaded: Vec<&ScenarioReport> = reports
        .iter()
        .filter(|r| r.scenario.rate.is_some())
        .collect();
    if !loaded.is_empty() {
        md.push_str("| scenario | server | deliveries/s | p50 | p99 | p99.9 | max | delivered / expected | dup | out of order | server CPU | highest sustained rate |\n");
        md.push_str(
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
        );
        for report in loaded {
            for run in report.runs() {
                let _ = write!(md, "| {} | {} ", report.scenario.title, run.server);
                match &run.main {
                    Some(step) => {
                        let _ = writeln!(
                            md,
                            "| {} | {} | {} | {} | {} | {} / {} | {} | {} | {} | {} |",
                            thousands(step.deliveries_per_second),
                            ms(step.latency_ms.p50),
                            ms(step.latency_ms.p99),
                            ms(step.latency_ms.p999),
                            ms(step.latency_ms.max),
                            thousands(step.delivered as f64),
                            thousands(step.expected as f64),
                            step.duplicates,
                            step.out_of_order,
                            step.server_cpu_cores
                                .map_or("?".to_owned(), |c| format!("{c:.2} cores")),
                            max_rate(run),
                        );
                    }
                    None => {
                        let error = run
                            .error
                            .as_deref()
                            .unwrap_or("no result")
                            .lines()
                            .next()
                            .unwrap_or_default();
                        let _ = writeln!(md, "| failed: {error} | | | | | | | | | |");
                    }
                }
            }
            let r = &report.ratios;
            let _ = writeln!(
                md,
                "| {} | hearth / limit-server | | {} | {} | | | | | | {} | {} |",
                report.scenario.title,
                ratio(r.p50),
                ratio(r.p99),
                ratio(r.cpu),
                ratio(r.max_rate)
            );
        }
        md.push('\n');
    }

    let split: Vec<(&ScenarioReport, &StepResult)> = reports
        .iter()
        .filter_map(|r| {
            let main = r.hearth.as_ref()?.main.as_ref()?;
            main.cross_process_latency_ms.as_ref()?;
            Some((r, main))
        })
        .collect();
    if !split.is_empty() {
        md.push_str("| scenario | within a process (p50 / p99) | across processes (p50 / p99) | added by crossing (p50 / p99) |\n");
        md.push_str("| --- | ---: | ---: | ---: |\n");
        for (report, main) in split {
            let (Some(same), Some(cross)) = (
                &main.same_process_latency_ms,
                &main.cross_process_latency_ms,
            ) else {
                continue;
            };
            let _ = writeln!(
                md,
                "| {} | {} / {} | {} / {} | {:+.1} ms / **{:+.1} ms** |",
                report.scenario.title,
                ms(same.p50),
                ms(same.p99),
                ms(cross.p50),
                ms(cross.p99),
                cross.p50 - same.p50,
                cross.p99 - same.p99,
            );
        }
        md.push('\n');
    }

    let bursts: Vec<&ScenarioReport> = reports
        .iter()
        .filter(|r| r.scenario.rate.is_none() && r.scenario.name == "h")
        .collect();
    if !bursts.is_empty() {
        md.push_str("| scenario | server | RSS before | peak | with the sockets | after they closed | retained |\n");
        md.push_str("| --- | --- | ---: | ---: | ---: | ---: | ---: |\n");
        for report in bursts {
            for run in report.runs() {
                let mib = |b: u64| b as f64 / 1048576.0;
                match &run.burst {
                    Some(b) => {
                        let _ = writeln!(
                            md,
                            "| {} | {} | {:.1} MiB | {:.1} MiB | {:.1} MiB | {:.1} MiB | {:.1} MiB |",
                            report.scenario.title,
                            run.server,
                            mib(b.rss_before_bytes),
                            mib(b.rss_peak_bytes),
                            mib(b.rss_open_bytes),
                            mib(b.rss_after_bytes),
                            mib(b.rss_after_bytes.saturating_sub(b.rss_before_bytes)),
                        );
                    }
                    None => {
                        let error = run.error.as_deref().unwrap_or("no result");
                        let error = error.lines().next().unwrap_or_default();
                        let _ = writeln!(
                            md,
                            "| {} | {} | failed: {error} | | | | |",
                            report.scenario.title, run.server
                        );
                    }
                }
            }
        }
        md.push('\n');
    }

    let idle: Vec<&ScenarioReport> = reports
        .iter()
        .filter(|r| r.scenario.rate.is_none() && r.scenario.name != "h")
        .collect();
    if !idle.is_empty() {
        md.push_str("| scenario | server | RSS before | RSS with the sockets | per socket | CPU while idle |\n");
        md.push_str("| --- | --- | ---: | ---: | ---: | ---: |\n");
        for report in idle {
            for run in report.runs() {
                match &run.idle {
                    Some(idle) => {
                        let _ = writeln!(
                            md,
                            "| {} | {} | {:.1} MiB | {:.1} MiB | {:.1} KiB | {} |",
                            report.scenario.title,
                            run.server,
                            idle.rss_before_bytes as f64 / 1048576.0,
                            idle.rss_with_sockets_bytes as f64 / 1048576.0,
                            idle.rss_per_socket_bytes / 1024.0,
                            idle.idle_cpu_cores
                                .map_or("?".to_owned(), |c| format!("{c:.3} cores")),
                        );
                    }
                    None => {
                        let error = run
                            .error
                            .as_deref()
                            .unwrap_or("no result")
                            .lines()
                            .next()
                            .unwrap_or_default();
                        let _ = writeln!(
                            md,
                            "| {} | {} | failed: {error} | | | |",
                            report.scenario.title, run.server
                        );
                    }
                }
            }
            let _ = writeln!(
                md,
                "| {} | hearth / limit-server | | | {} | |",
                report.scenario.title,
                ratio(report.ratios.rss_per_socket)
            );
        }
        md.push('\n');
    }

    let checks: Vec<&TargetCheck> = reports.iter().flat_map(|r| r.targets.iter()).collect();
    if !checks.is_empty() {
        md.push_str("Targets of issue 6 that this run speaks to:\n\n");
        for check in checks {
            let _ = writeln!(
                md,
                "- {} {}: {}",
                if check.met { "met:" } else { "**MISSED**:" },
                check.target,
                check.detail
            );
        }
        md.push('\n');
    }
    md
}

/// A line of the chart: one server in one scenario, its steps ordered by load.
struct Series {
    label: String,
    color: RGBColor,
    /// (deliveries per second, p50 ms, p99 ms, sustained)
    points: Vec<(f64, f64, f64, bool)>,
}

fn series(reports: &[ScenarioReport], p99_limit_ms: f64) -> Vec<Series> {
    const HEARTH: [RGBColor; 3] = [
        RGBColor(200, 40, 40),
        RGBColor(230, 120, 30),
        RGBColor(160, 30, 120),
    ];
    const LIMIT: [RGBColor; 3] = [
        RGBColor(30, 80, 200),
        RGBColor(20, 150, 150),
        RGBColor(90, 60, 180),
    ];
    let mut all = Vec::new();
    for (i, report) in reports
        .iter()
        .filter(|r| r.scenario.rate.is_some())
        .enumerate()
    {
        for run in report.runs() {
            let steps: Vec<&StepResult> = run
                .main
                .iter()
                .chain(run.find_max.iter().flat_map(|f| f.steps.iter()))
                .filter(|s| s.latency_ms.samples > 0)
                .collect();
            let mut points: Vec<(f64, f64, f64, bool)> = steps
                .iter()
                .map(|s| {
                    (
                        s.deliveries_per_second.max(1.0),
                        s.latency_ms.p50.max(0.01),
                        s.latency_ms.p99.max(0.01),
                        s.sustained(p99_limit_ms),
                    )
                })
                .collect();
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            if points.is_empty() {
                continue;
            }
            let color = match run.server {
                ServerKind::Hearth => HEARTH[i % HEARTH.len()],
                ServerKind::Limit => LIMIT[i % LIMIT.len()],
            };
            all.push(Series {
                label: format!("{} ({})", run.server, report.scenario.name),
                color,
                points,
            });
        }
    }
    all
}

/// Draws p99 (thick, a dot where the step held, a ring where it did not) and p50
/// (thin) against deliveries per second, both axes logarithmic, with the p99 limit as
/// a dashed line. Answers false when there was nothing to draw.
pub fn write_chart(
    reports: &[ScenarioReport],
    p99_limit_ms: f64,
    path: &Path,
) -> anyhow::Result<bool> {
    let all = series(reports, p99_limit_ms);
    if all.is_empty() {
        return Ok(false);
    }
    let xs = all.iter().flat_map(|s| s.points.iter().map(|p| p.0));
    let (x_min, x_max) = xs.fold((f64::MAX, f64::MIN), |(lo, hi), x| (lo.min(x), hi.max(x)));
    let ys = all
        .iter()
        .flat_map(|s| s.points.iter().flat_map(|p| [p.1, p.2]));
    let (y_min, y_max) = ys.fold((p99_limit_ms, p99_limit_ms), |(lo, hi), y| {
        (lo.min(y), hi.max(y))
    });
    // Whole decades, so the logarithmic axes have labels at 1, 10, 100…
    let decades = |lo: f64, hi: f64| {
        (
            10f64.powf(lo.log10().floor()),
            10f64.powf(hi.log10().ceil()),
        )
    };
    let (x_min, x_max) = decades(x_min, x_max);
    let (y_min, y_max) = decades(y_min, y_max);
    let date = reports
        .first()
        .map(|r| r.machine.date.clone())
        .unwrap_or_default();
    let cpu = reports
        .first()
        .map(|r| format!("{}, {} cores", r.machine.cpu, r.machine.nproc))
        .unwrap_or_default();

    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(chart_error)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("hearth vs limit-server: latency against load ({date}, {cpu})"),
            ("sans-serif", 18),
        )
        .margin(16)
        .margin_right(48)
        .x_label_area_size(44)
        .y_label_area_size(60)
        .build_cartesian_2d((x_min..x_max).log_scale(), (y_min..y_max).log_scale())
        .map_err(chart_error)?;
    chart
        .configure_mesh()
        .x_desc("deliveries per second (posts × room size)")
        .y_desc("latency, ms (p99 thick, p50 thin)")
        .x_label_formatter(&|x| thousands(*x))
        .y_label_formatter(&|y| {
            if *y >= 1.0 {
                format!("{y:.0}")
            } else {
                format!("{y:.2}")
            }
        })
        .draw()
        .map_err(chart_error)?;

    chart
        .draw_series(DashedLineSeries::new(
            [(x_min, p99_limit_ms), (x_max, p99_limit_ms)],
            6,
            4,
            BLACK.mix(0.5).stroke_width(1),
        ))
        .map_err(chart_error)?
        .label(format!("p99 limit ({p99_limit_ms} ms)"))
        .legend(|(x, y)| PathElement::new([(x, y), (x + 18, y)], BLACK.mix(0.5)));
    for s in &all {
        let color = s.color;
        chart
            .draw_series(LineSeries::new(
                s.points.iter().map(|p| (p.0, p.2)),
                color.stroke_width(2),
            ))
            .map_err(chart_error)?
            .label(format!("{} p99", s.label))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], color.stroke_width(2)));
        chart
            .draw_series(LineSeries::new(
                s.points.iter().map(|p| (p.0, p.1)),
                color.mix(0.6).stroke_width(1),
            ))
            .map_err(chart_error)?;
        chart
            .draw_series(s.points.iter().map(|p| {
                let at = (p.0, p.2);
                if p.3 {
                    EmptyElement::at(at) + Circle::new((0, 0), 4, color.filled())
                } else {
                    EmptyElement::at(at) + Circle::new((0, 0), 5, color.stroke_width(2))
                }
            }))
            .map_err(chart_error)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .draw()
        .map_err(chart_error)?;
    root.present().map_err(chart_error)?;
    Ok(true)
}

fn chart_error<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow::anyhow!("drawing the chart: {e:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(thousands(1234567.4), "1,234,567");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(ms(6.04), "6.0 ms");
        assert_eq!(ms(1234.0), "1234 ms");
        assert_eq!(ratio(Some(1.234)), "**1.23×**");
        assert_eq!(ratio(None), "–");
    }
}
