//! `GET /inbox/analytics[?days=7|30&site=KEY]`: how an operator's sites are
//! answered: conversations started, the median time to the first reply and to
//! closing, per day (UTC) over the last 7 or 30 days, as charts drawn here in SVG;
//! `GET /inbox/analytics.csv` with the same query, the same figures as CSV.
//!
//! It must not show a site's figures to anyone but its operators: the conversations
//! counted are those of the viewer's own sites.
use std::sync::Arc;

use maud::{Markup, html};
use poem::{
    IntoResponse, Request, Response, handler,
    web::{Data, Query},
};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};
use serde::Deserialize;

use super::{Site, queries};
use crate::{
    chat::{Chat, sidebar},
    db::{now_ms, statement},
    error::AppError,
    i18n::{Lang, text, text_arg},
    web::{
        Viewer,
        layout::{self, Page},
    },
};

const DAY_MS: i64 = 86_400_000;
/// Conversations read at most for one answer, so a busy site's page stays quick.
const MAX_COUNTED: i64 = 100_000;

#[derive(Debug, Default, Deserialize)]
pub struct AnalyticsQuery {
    #[serde(default)]
    days: Option<String>,
    #[serde(default)]
    site: Option<String>,
}

/// What a conversation contributes: when it started, was first answered and closed.
#[derive(Clone, Copy, Debug)]
pub struct Started {
    pub at: i64,
    pub first_reply_at: Option<i64>,
    pub closed_at: Option<i64>,
}

/// One day's figures (or the window's, for the totals).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Figures {
    pub conversations: usize,
    /// Median seconds from the visitor's first message to the team's first reply.
    pub first_reply_s: Option<i64>,
    /// Median seconds from the visitor's first message to closing.
    pub close_s: Option<i64>,
}

fn median(mut values: Vec<i64>) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let mid = values.len() / 2;
    Some(match values.len() % 2 {
        0 => (values[mid - 1] + values[mid]) / 2,
        _ => values[mid],
    })
}

fn figures<'a>(chats: impl Iterator<Item = &'a Started>) -> Figures {
    let mut conversations = 0;
    let mut replies = Vec::new();
    let mut closes = Vec::new();
    for c in chats {
        conversations += 1;
        if let Some(at) = c.first_reply_at {
            replies.push((at - c.at).max(0) / 1000);
        }
        if let Some(at) = c.closed_at {
            closes.push((at - c.at).max(0) / 1000);
        }
    }
    Figures {
        conversations,
        first_reply_s: median(replies),
        close_s: median(closes),
    }
}

/// The figures of each of the `days` days up to the one holding `now` (UTC), oldest
/// first, each with the day's start in milliseconds.
pub fn per_day(chats: &[Started], days: i64, now: i64) -> Vec<(i64, Figures)> {
    let today = now.div_euclid(DAY_MS) * DAY_MS;
    (0..days)
        .rev()
        .map(|back| {
            let start = today - back * DAY_MS;
            let of_day = chats
                .iter()
                .filter(|c| c.at >= start && c.at < start + DAY_MS);
            (start, figures(of_day))
        })
        .collect()
}

async fn started_since(
    db: &DatabaseConnection,
    operator: i64,
    site: Option<i64>,
    since: i64,
) -> Result<Vec<Started>, DbErr> {
    let rows = db
        .query_all_raw(statement(
            db,
            // The inbox notes the first reply as it flushes; one not noted yet is
            // read from the messages.
            "SELECT c.first_seen_at, COALESCE(c.first_reply_at, (SELECT MIN(m.created_at) \
               FROM messages m WHERE m.conversation_id = c.conversation_id \
               AND m.author_id <> c.guest_id)) AS first_reply_at, c.closed_at \
             FROM support_chats c \
             JOIN site_operators o ON o.site_id = c.site_id \
             WHERE o.user_id = ? AND c.first_seen_at >= ? AND (? = 0 OR c.site_id = ?) \
             ORDER BY c.first_seen_at DESC LIMIT ?",
            [
                operator.into(),
                since.into(),
                site.unwrap_or(0).into(),
                site.unwrap_or(0).into(),
                MAX_COUNTED.into(),
            ],
        ))
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Started {
                at: r.try_get("", "first_seen_at")?,
                first_reply_at: r.try_get("", "first_reply_at")?,
                closed_at: r.try_get("", "closed_at")?,
            })
        })
        .collect()
}

/// The window asked for (7 or 30 days), the viewer's sites, the one asked for, and
/// the figures.
struct Report {
    days: i64,
    sites: Vec<Site>,
    site: Option<Site>,
    total: Figures,
    daily: Vec<(i64, Figures)>,
}

async fn report(chat: &Chat, viewer: &Viewer, query: &AnalyticsQuery) -> Result<Report, AppError> {
    let days = match query.days.as_deref() {
        None | Some("") | Some("7") => 7,
        Some("30") => 30,
        Some(_) => return Err(AppError::Refused("Analytics cover 7 or 30 days.")),
    };
    let sites = queries::sites_of_operator(&chat.db, viewer.id).await?;
    let site = match query.site.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(key) => Some(
            sites
                .iter()
                .find(|s| s.key == key)
                .cloned()
                .ok_or(AppError::NotFound)?,
        ),
    };
    let now = now_ms();
    let since = now.div_euclid(DAY_MS) * DAY_MS - (days - 1) * DAY_MS;
    let chats = match sites.is_empty() {
        true => Vec::new(),
        false => started_since(&chat.db, viewer.id, site.as_ref().map(|s| s.id), since).await?,
    };
    Ok(Report {
        days,
        total: figures(chats.iter()),
        daily: per_day(&chats, days, now),
        sites,
        site,
    })
}

#[handler]
pub async fn show(
    req: &Request,
    viewer: Viewer,
    Data(chat): Data<&Arc<Chat>>,
    Query(query): Query<AnalyticsQuery>,
) -> Result<Response, AppError> {
    let lang = super::inbox::viewer_lang(req);
    let report = report(chat, &viewer, &query).await?;
    let sidebar = sidebar::for_user(&chat.db, viewer.id, None).await?;
    let title = text(lang, "analytics-title");
    let page = Page::signed_in(
        &title,
        &viewer,
        "inbox",
        sidebar,
        chat.hub.site_online().await,
    );
    Ok(layout::render_in(page, lang, analytics_view(&report, lang)).into_response())
}

#[handler]
pub async fn csv(
    viewer: Viewer,
    Data(chat): Data<&Arc<Chat>>,
    Query(query): Query<AnalyticsQuery>,
) -> Result<Response, AppError> {
    let report = report(chat, &viewer, &query).await?;
    let mut text =
        String::from("date,conversations,median_first_reply_seconds,median_close_seconds\n");
    for (day, f) in &report.daily {
        let cell = |v: Option<i64>| v.map(|s| s.to_string()).unwrap_or_default();
        text.push_str(&format!(
            "{},{},{},{}\n",
            date(*day),
            f.conversations,
            cell(f.first_reply_s),
            cell(f.close_s)
        ));
    }
    Ok(super::download(
        text,
        "text/csv; charset=utf-8",
        &format!("inbox-{}-days.csv", report.days),
    ))
}

/// `2026-12-02` for the day starting at `ms`.
fn date(ms: i64) -> String {
    crate::chat::views::iso_time(ms)
        .get(..10)
        .unwrap_or_default()
        .to_owned()
}

/// `45 s`, `12 min`, `3.5 h`, `2.0 d`.
pub fn duration(seconds: i64) -> String {
    match seconds {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min", s / 60),
        s if s < 86_400 => format!("{:.1} h", s as f64 / 3600.0),
        s => format!("{:.1} d", s as f64 / 86_400.0),
    }
}

fn query_string(report: &Report, days: i64) -> String {
    match &report.site {
        Some(site) => format!("?days={days}&site={}", site.key),
        None => format!("?days={days}"),
    }
}

fn analytics_view(report: &Report, lang: Lang) -> Markup {
    let t = |id: &str| text(lang, id);
    let counts: Vec<_> = report
        .daily
        .iter()
        .map(|(d, f)| (*d, Some(f.conversations as i64)))
        .collect();
    let replies: Vec<_> = report
        .daily
        .iter()
        .map(|(d, f)| (*d, f.first_reply_s))
        .collect();
    let closes: Vec<_> = report.daily.iter().map(|(d, f)| (*d, f.close_s)).collect();
    let shown = |v: Option<i64>| v.map(duration).unwrap_or_else(|| "—".to_owned());
    html! {
        section.card #inbox-analytics {
            h1 { (t("analytics-title")) }
            p { a href="/inbox" { (t("inbox-back")) } " · " (t("analytics-utc")) }
            nav.inbox-views aria-label=(t("analytics-period")) {
                @for days in [7, 30] {
                    a href={ "/inbox/analytics" (query_string(report, days)) }
                        aria-current=[(days == report.days).then_some("page")] { (text_arg(lang, "analytics-last-days", "days", days.to_string())) }
                }
            }
            @if report.sites.len() > 1 {
                nav.inbox-views aria-label=(t("analytics-site")) {
                    a href={ "/inbox/analytics?days=" (report.days) } aria-current=[report.site.is_none().then_some("page")] { (t("analytics-all-sites")) }
                    @for site in &report.sites {
                        a href={ "/inbox/analytics?days=" (report.days) "&site=" (site.key) }
                            aria-current=[(report.site.as_ref().map(|s| s.id) == Some(site.id)).then_some("page")] { (site.name) }
                    }
                }
            }
            dl #analytics-totals.analytics-totals {
                div { dt { (t("analytics-conversations")) } dd #analytics-conversations { (report.total.conversations) } }
                div { dt { (t("analytics-first-reply")) } dd #analytics-first-reply { (shown(report.total.first_reply_s)) } }
                div { dt { (t("analytics-close")) } dd #analytics-close { (shown(report.total.close_s)) } }
            }
            (bar_chart("chart-conversations", &t("analytics-chart-conversations"), &counts, |v| v.to_string()))
            (bar_chart("chart-first-reply", &t("analytics-chart-first-reply"), &replies, duration))
            (bar_chart("chart-close", &t("analytics-chart-close"), &closes, duration))
            p { a #analytics-csv href={ "/inbox/analytics.csv" (query_string(report, report.days)) } download { (t("analytics-csv")) } }
        }
    }
}

/// A bar per day, drawn to scale with the tallest bar; each bar says its day and
/// value in its tooltip, and the chart its largest value and its first and last day.
fn bar_chart(
    id: &str,
    title: &str,
    points: &[(i64, Option<i64>)],
    label: fn(i64) -> String,
) -> Markup {
    const W: f64 = 640.0;
    const H: f64 = 160.0;
    const TOP: f64 = 16.0;
    const BOTTOM: f64 = 20.0;
    let max = points.iter().filter_map(|(_, v)| *v).max().unwrap_or(0);
    let slot = W / points.len().max(1) as f64;
    let plot = H - TOP - BOTTOM;
    let title_id = format!("{id}-title");
    html! {
        figure.analytics-chart {
            figcaption #(title_id) { (title) }
            svg #(id) viewBox={ "0 0 " (W) " " (H) } role="img" aria-labelledby=(title_id)
                xmlns="http://www.w3.org/2000/svg" data-max=(max) {
                line.chart-axis x1="0" y1=(H - BOTTOM) x2=(W) y2=(H - BOTTOM) {}
                text.chart-label x="2" y="12" { (if max > 0 { label(max) } else { "none".to_owned() }) }
                @for (i, (day, value)) in points.iter().enumerate() {
                    @let height = match (value, max) { (Some(v), m) if m > 0 => plot * (*v as f64) / (m as f64), _ => 0.0 };
                    rect.chart-bar x=(format!("{:.1}", i as f64 * slot + slot * 0.15)) y=(format!("{:.1}", H - BOTTOM - height))
                        width=(format!("{:.1}", slot * 0.7)) height=(format!("{:.1}", height)) data-day=(date(*day)) data-value=[value] {
                        title { (date(*day)) ": " (value.map(label).unwrap_or_else(|| "no data".to_owned())) }
                    }
                }
                @if let (Some((first, _)), Some((last, _))) = (points.first(), points.last()) {
                    text.chart-label x="2" y=(H - 4.0) { (date(*first)) }
                    text.chart-label x=(W - 2.0) y=(H - 4.0) text-anchor="end" { (date(*last)) }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(day: i64, hour: i64) -> i64 {
        day * DAY_MS + hour * 3_600_000
    }

    #[test]
    fn each_day_counts_its_conversations_and_their_medians() {
        let now = at(20, 12);
        let chats = [
            Started {
                at: at(20, 1),
                first_reply_at: Some(at(20, 1) + 30_000),
                closed_at: None,
            },
            Started {
                at: at(20, 2),
                first_reply_at: Some(at(20, 2) + 90_000),
                closed_at: Some(at(20, 3)),
            },
            Started {
                at: at(20, 3),
                first_reply_at: None,
                closed_at: None,
            },
            Started {
                at: at(18, 5),
                first_reply_at: Some(at(18, 5) + 600_000),
                closed_at: None,
            },
        ];
        let days = per_day(&chats, 7, now);
        assert_eq!(days.len(), 7);
        assert_eq!(days[6].0, at(20, 0));
        assert_eq!(
            days[6].1,
            Figures {
                conversations: 3,
                first_reply_s: Some(60),
                close_s: Some(3600)
            }
        );
        assert_eq!(days[4].1.conversations, 1);
        assert_eq!(days[4].1.first_reply_s, Some(600));
        assert_eq!(days[5].1, Figures::default());
    }

    #[test]
    fn durations_read_in_the_unit_that_fits() {
        assert_eq!(duration(45), "45 s");
        assert_eq!(duration(720), "12 min");
        assert_eq!(duration(12_600), "3.5 h");
        assert_eq!(duration(172_800), "2.0 d");
    }
}
