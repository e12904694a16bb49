//! The HTML report opened in headless Chromium (SPEC §11): the inline SVG plots become real DOM
//! elements, the page renders to a screenshot, and nothing is fetched from the network.
//! Needs `chromium` (Debian package; `.ci/run` installs it) or ATTRCLUST_CHROMIUM=/path/to/it.

mod common;

use std::path::PathBuf;
use std::process::Command;

fn chromium() -> PathBuf {
    if let Some(p) = std::env::var_os("ATTRCLUST_CHROMIUM") {
        return PathBuf::from(p);
    }
    for candidate in [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ] {
        if std::path::Path::new(candidate).exists() {
            return PathBuf::from(candidate);
        }
    }
    panic!(
        "headless Chromium is needed for this test: apt-get install chromium (or set ATTRCLUST_CHROMIUM)"
    );
}

fn headless(profile: &std::path::Path) -> Command {
    let mut c = Command::new(chromium());
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    c
}

#[test]
fn report_renders_in_headless_chromium() {
    let p = common::Project::new();
    p.run_ok(&["run", "experiments/tiny.toml"]);
    let page = p.path("reports/tiny/index.html");
    let url = format!("file://{}", page.display());

    let dom = headless(&p.path("profile-dom"))
        .args(["--dump-dom", &url])
        .output()
        .expect("chromium starts");
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom.contains("<title>Tiny &lt;test&gt; &amp; co — attrclust</title>"),
        "{}",
        &dom[..dom.len().min(400)]
    );
    // The scatter holds one circle per sample (60) plus the legend's four: parsed as SVG.
    assert!(
        dom.matches("<circle").count() >= 64,
        "svg circles in the DOM: {}",
        dom.matches("<circle").count()
    );
    assert!(dom.contains("patch_endo_clone_naive"));

    let shot = p.path("report.png");
    let out = headless(&p.path("profile-shot"))
        .args([
            "--window-size=1100,1600",
            &format!("--screenshot={}", shot.display()),
            &url,
        ])
        .output()
        .expect("chromium starts");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let png = std::fs::read(&shot).expect("a screenshot was written");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "{} bytes",
        png.len()
    );
}
