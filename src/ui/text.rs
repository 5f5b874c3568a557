//! Words of the interface in the configured language.

use crate::config::platform::Language;
use crate::model::Pane;

/// A pane's title.
pub fn pane_title(pane: Pane, lang: Language) -> &'static str {
    match lang {
        Language::En => match pane {
            Pane::Overview => "Overview",
            Pane::Cluster => "Cluster",
            Pane::Data => "Data",
            Pane::Ai => "AI",
            Pane::Rollouts => "Rollouts",
            Pane::Failover => "Failover",
            Pane::Scaling => "Scaling",
            Pane::Alerts => "Alerts",
            Pane::Jobs => "Jobs",
        },
        Language::Ja => match pane {
            Pane::Overview => "概要",
            Pane::Cluster => "クラスタ",
            Pane::Data => "データ",
            Pane::Ai => "AI",
            Pane::Rollouts => "ロールアウト",
            Pane::Failover => "フェイルオーバー",
            Pane::Scaling => "スケーリング",
            Pane::Alerts => "アラート",
            Pane::Jobs => "ジョブ",
        },
    }
}

/// The mode badge: mutating actions enabled, or refused.
pub fn badge(read_only: bool, lang: Language) -> &'static str {
    match (read_only, lang) {
        (true, Language::En) => " READ-ONLY ",
        (false, Language::En) => " LIVE ",
        (true, Language::Ja) => " 読み取り専用 ",
        (false, Language::Ja) => " 操作可 ",
    }
}
