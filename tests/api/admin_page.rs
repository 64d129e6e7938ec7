//! The operator's page in a real (headless) Chromium: sign-in through its
//! own form, live counts, a kind's detail, the mail queue's retry button,
//! and nothing fetched from outside the node.

use serde_json::Value;
use storefront::actors::ActorKind;

use crate::helpers::{assert_no_secret, nonzero64, spawn_app, spawn_app_with, ADMIN_EMAIL};
use storefront_test_support::webdriver::Browser;

/// A script that reads the handled count the page shows for ProductActor
/// into `handled` (null while there is none) and returns `answer`.
fn products_handled(answer: &str) -> String {
    format!(
        "const cell = document.querySelector('tr[data-kind=\"ProductActor\"] td.handled');
         const handled = cell ? Number(cell.textContent) : null;
         return {answer};"
    )
}

#[actix_web::test]
async fn an_admin_watches_the_actors_live_and_a_customer_is_turned_away() {
    let Some(browser) = Browser::start((1400, 1000)).await else {
        return;
    };
    let Some(app) = spawn_app().await else { return };

    browser.goto(&app.url("/admin")).await;
    browser.sign_in_on_page(&app, ADMIN_EMAIL).await;
    let shown = browser
        .wait_for(
            "every actor kind of the node",
            10,
            "const kinds = [...document.querySelectorAll('tr[data-kind]')].map(row => row.dataset.kind);
             return kinds.length ? kinds : null;",
        )
        .await;
    let mut shown: Vec<&str> = shown
        .as_array()
        .unwrap()
        .iter()
        .map(|kind| kind.as_str().unwrap())
        .collect();
    shown.sort_unstable();
    let mut every: Vec<&str> = ActorKind::ALL
        .iter()
        .filter(|kind| app.settings.node.hosts(**kind))
        .map(|kind| kind.actor_name())
        .collect();
    every.sort_unstable();
    assert_eq!(shown, every);
    // Gone if the page reloads.
    browser.run("window.samePage = true; return null;").await;

    let before = browser
        .wait_for("a handled count", 10, &products_handled("handled"))
        .await
        .as_u64()
        .unwrap();
    for _ in 0..5 {
        assert!(app.get("/products", None).await.status().is_success());
    }
    let grown = format!("handled >= {} ? handled : null", before + 5);
    browser
        .wait_for("the handled count to grow", 10, &products_handled(&grown))
        .await;
    assert_eq!(browser.run("return window.samePage === true").await, true);
    // The traffic reaches the kind's chart once a window that saw it is
    // sampled: pixels drawn above the chart's baseline.
    let chart = browser
        .wait_for(
            "the kind's chart to draw the traffic",
            10,
            "const canvas = document.querySelector('tr[data-kind=\"ProductActor\"] canvas.chart');
             if (!canvas) return null;
             const scale = window.devicePixelRatio || 1;
             const pixels = canvas.getContext('2d')
                 .getImageData(0, 0, canvas.width, canvas.height - 2 * scale).data;
             let drawn = 0;
             for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) drawn++;
             return drawn > 0 ? canvas.title : null;",
        )
        .await;
    let title = chart.as_str().unwrap();
    let peak: f64 = title
        .split("up to ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|rate| rate.parse().ok())
        .unwrap_or_else(|| panic!("no rate in the chart's title: {title}"));
    assert!(peak > 0.0, "{title}");

    browser.click("tr[data-kind=\"ProductActor\"] button").await;
    let detail = browser
        .wait_for(
            "the kind's instances and last messages",
            10,
            "const instances = document.querySelectorAll('#detail-instances tbody tr').length;
             const types = [...document.querySelectorAll('#detail-messages tbody tr')]
                 .map(row => row.children[1].textContent);
             return !document.getElementById('detail').hidden && instances > 0 && types.length > 0
                 ? { instances, types } : null;",
        )
        .await;
    let types = detail["types"].as_array().unwrap();
    assert!(types.contains(&Value::from("SearchProducts")), "{detail}");

    let requested = browser
        .run(
            "return [location.href].concat(
                 performance.getEntriesByType('navigation').map(entry => entry.name),
                 performance.getEntriesByType('resource').map(entry => entry.name));",
        )
        .await;
    let requested: Vec<&str> = requested
        .as_array()
        .unwrap()
        .iter()
        .map(Value::as_str)
        .map(Option::unwrap)
        .collect();
    assert!(
        requested.iter().any(|url| url.ends_with("/admin/overview")),
        "{requested:?}"
    );
    for url in &requested {
        assert!(
            url.starts_with(&format!("{}/", app.address)),
            "a request outside the node: {url}"
        );
    }
    let page = app.get("/admin", None).await;
    let policy = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(policy.starts_with("default-src 'none';"), "{policy}");
    assert!(policy.contains("connect-src 'self'"), "{policy}");

    browser.delete_cookies().await;
    browser.goto(&app.url("/admin")).await;
    browser.sign_in_on_page(&app, "shopper@example.com").await;
    browser
        .wait_for(
            "admins only",
            10,
            "return !document.getElementById('admins-only').hidden
                 && document.getElementById('dashboard').hidden",
        )
        .await;
    let text = browser
        .run("return document.getElementById('admins-only').textContent")
        .await;
    assert!(text.as_str().unwrap().contains("Admins only"), "{text}");
}

#[actix_web::test]
async fn the_page_and_its_files_load_nothing_from_elsewhere() {
    let Some(app) = spawn_app().await else { return };
    for (path, content_type) in [
        ("/admin", "text/html; charset=utf-8"),
        ("/admin/assets/admin.js", "text/javascript; charset=utf-8"),
        ("/admin/assets/admin.css", "text/css; charset=utf-8"),
    ] {
        let response = app.get(path, None).await;
        assert_eq!(response.status(), reqwest::StatusCode::OK, "{path}");
        let headers = response.headers();
        assert_eq!(headers["content-type"], content_type, "{path}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(
            headers["content-security-policy"],
            storefront::http::admin_page::CONTENT_SECURITY_POLICY,
            "{path}"
        );
        let text = response.text().await.unwrap();
        assert!(
            !text.contains("http://") && !text.contains("https://"),
            "{path}"
        );
        assert!(!text.contains("innerHTML"), "{path}");
    }
}

/// A sign-in mail the node could not send shows in the page's mail queue
/// without its code, and its Retry button sends it now, not at its next
/// try a minute later.
#[actix_web::test]
async fn a_parked_mail_shows_without_its_code_and_its_retry_button_sends_it() {
    let Some(browser) = Browser::start((1400, 1000)).await else {
        return;
    };
    let Some(app) = spawn_app_with(|settings| {
        settings.mail.retry_base_ms = nonzero64(60_000);
    })
    .await
    else {
        return;
    };
    browser.goto(&app.url("/admin")).await;
    browser.sign_in_on_page(&app, ADMIN_EMAIL).await;

    app.break_mail();
    let email = "parked@example.com";
    assert_eq!(
        app.request_otp(email).await.status(),
        reqwest::StatusCode::ACCEPTED
    );
    let parked_row = format!(
        "const row = [...document.querySelectorAll('#mail-list tbody tr')]
             .find(row => row.children[2].textContent === '{email}');"
    );
    let shown = browser
        .wait_for(
            "the parked mail after its failed try",
            15,
            &format!(
                "{parked_row}
                 return row && row.children[4].textContent === '1' ? document.body.innerText : null;"
            ),
        )
        .await;
    app.fix_mail();
    browser
        .run(&format!(
            "{parked_row}
             row.querySelector('button').click();
             return null;"
        ))
        .await;
    let code = app.next_code(email).await;
    browser
        .wait_for(
            "the sent mail to leave the queue",
            10,
            &format!("{parked_row} return row ? null : true;"),
        )
        .await;

    let shown = shown.as_str().unwrap();
    assert!(shown.contains(email), "{shown}");
    assert_no_secret(shown, &[code]);
}
