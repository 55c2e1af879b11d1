use super::*;

const NAV: &str = r#""navigate":"https://example.com/inbox""#;

fn n(members: &str) -> String {
    format!(r#"{{"web_push":8030,"notification":{{{members}}}}}"#)
}

/// Valid and invalid declarative payloads, one rule of WebKit's
/// `NotificationJSONParser.cpp` per line.
#[test]
fn webkit_rules_table() {
    use NotificationError as E;
    let m = |member, rule| E::Member { member, rule };
    let url_rule = "must be an absolute URL";
    let cases: Vec<(String, Result<(), NotificationError>)> = vec![
        (n(&format!(r#""title":"Hi",{NAV}"#)), Ok(())),
        // The marker: a number, exactly 8030.
        (
            format!(r#"{{"web_push":8030.0,"notification":{{"title":"Hi",{NAV}}}}}"#),
            Ok(()),
        ),
        (
            format!(r#"{{"web_push":"8030","notification":{{"title":"Hi",{NAV}}}}}"#),
            Err(E::NotDeclarative),
        ),
        (
            format!(r#"{{"web_push":8031,"notification":{{"title":"Hi",{NAV}}}}}"#),
            Err(E::NotDeclarative),
        ),
        (
            format!(r#"{{"notification":{{"title":"Hi",{NAV}}}}}"#),
            Err(E::NotDeclarative),
        ),
        ("[8030]".to_owned(), Err(E::NotAnObject)),
        ("not json".to_owned(), Err(E::NotAnObject)),
        // `notification`: an object.
        (
            r#"{"web_push":8030}"#.to_owned(),
            Err(E::MissingNotification),
        ),
        (
            r#"{"web_push":8030,"notification":"Hi"}"#.to_owned(),
            Err(E::MissingNotification),
        ),
        // `navigate`: required, a string, an absolute URL.
        (n(r#""title":"Hi""#), Err(m("navigate", url_rule))),
        (
            n(r#""title":"Hi","navigate":"/inbox""#),
            Err(m("navigate", url_rule)),
        ),
        (
            n(r#""title":"Hi","navigate":"https://""#),
            Err(m("navigate", url_rule)),
        ),
        (
            n(r#""title":"Hi","navigate":"https://ex ample.com/""#),
            Err(m("navigate", url_rule)),
        ),
        (
            n(r#""title":"Hi","navigate":42"#),
            Err(m("navigate", "must be a string")),
        ),
        (
            n(r#""title":"Hi","navigate":"mailto:ops@example.com""#),
            Ok(()),
        ),
        // `title`: required, a non-empty string.
        (n(NAV), Err(E::Title)),
        (n(&format!(r#""title":"",{NAV}"#)), Err(E::Title)),
        (n(&format!(r#""title":7,{NAV}"#)), Err(E::Title)),
        (n(&format!(r#""title":" ",{NAV}"#)), Ok(())),
        // `app_badge`: a non-negative integer, or a string of digits.
        (n(&format!(r#""title":"Hi",{NAV},"app_badge":0"#)), Ok(())),
        (
            n(&format!(r#""title":"Hi",{NAV},"app_badge":2147483647"#)),
            Ok(()),
        ),
        (
            n(&format!(
                r#""title":"Hi",{NAV},"app_badge":"18446744073709551615""#
            )),
            Ok(()),
        ),
        (n(&format!(r#""title":"Hi",{NAV},"app_badge":"""#)), Ok(())),
        (
            n(&format!(r#""title":"Hi",{NAV},"app_badge":-1"#)),
            Err(m(
                "app_badge",
                "must be a non-negative 32-bit integer or a string of digits",
            )),
        ),
        (
            n(&format!(r#""title":"Hi",{NAV},"app_badge":2147483648"#)),
            Err(m(
                "app_badge",
                "must be a non-negative 32-bit integer or a string of digits",
            )),
        ),
        (
            n(&format!(r#""title":"Hi",{NAV},"app_badge":true"#)),
            Err(m(
                "app_badge",
                "must be a non-negative 32-bit integer or a string of digits",
            )),
        ),
        (
            n(&format!(
                r#""title":"Hi",{NAV},"app_badge":"18446744073709551616""#
            )),
            Err(m("app_badge", "must be a string of digits up to u64::MAX")),
        ),
        (
            n(&format!(r#""title":"Hi",{NAV},"app_badge":"+3""#)),
            Err(m("app_badge", "must be a string of digits up to u64::MAX")),
        ),
        // `dir`: auto, ltr, rtl.
        (n(&format!(r#""title":"Hi",{NAV},"dir":"rtl""#)), Ok(())),
        (
            n(&format!(r#""title":"Hi",{NAV},"dir":"RTL""#)),
            Err(m("dir", "must be \"auto\", \"ltr\" or \"rtl\"")),
        ),
        (
            n(&format!(r#""title":"Hi",{NAV},"dir":1"#)),
            Err(m("dir", "must be \"auto\", \"ltr\" or \"rtl\"")),
        ),
        // `lang`, `body`, `tag`: strings.
        (
            n(&format!(
                r#""title":"Hi",{NAV},"lang":"en","body":"b","tag":"t""#
            )),
            Ok(()),
        ),
        (
            n(&format!(r#""title":"Hi",{NAV},"body":null"#)),
            Err(m("body", "must be a string")),
        ),
        (
            n(&format!(r#""title":"Hi",{NAV},"tag":1"#)),
            Err(m("tag", "must be a string")),
        ),
        (
            n(&format!(r#""title":"Hi",{NAV},"lang":[]"#)),
            Err(m("lang", "must be a string")),
        ),
        // `icon`: an absolute URL.
        (
            n(&format!(
                r#""title":"Hi",{NAV},"icon":"https://example.com/i.png""#
            )),
            Ok(()),
        ),
        (
            n(&format!(r#""title":"Hi",{NAV},"icon":"i.png""#)),
            Err(m("icon", "must be a string that is an absolute URL")),
        ),
        // `silent`, `mutable`: booleans.
        (
            n(&format!(
                r#""title":"Hi",{NAV},"silent":true,"mutable":false"#
            )),
            Ok(()),
        ),
        (
            n(&format!(r#""title":"Hi",{NAV},"silent":"yes""#)),
            Err(m("silent", "must be a boolean")),
        ),
        (
            n(&format!(r#""title":"Hi",{NAV},"mutable":1"#)),
            Err(m("mutable", "must be a boolean")),
        ),
        // `data`: anything.
        (
            n(&format!(r#""title":"Hi",{NAV},"data":{{"a":[1,null]}}"#)),
            Ok(()),
        ),
        // Too long to ever send.
        (
            n(&format!(r#""title":"{}",{NAV}"#, "x".repeat(4000))),
            Err(E::TooLarge {
                len: 4084,
                max: MAX_PLAINTEXT_LEN,
            }),
        ),
    ];
    for (i, (json, want)) in cases.iter().enumerate() {
        let got = parse_declarative(json).map(|_| ());
        assert_eq!(&got, want, "case {i}: {json}");
    }
}

#[test]
fn builder_output_passes_webkit_rules() {
    let built = Notification::builder("Build finished", "https://ci.example.com/runs/42")
        .body("All tests passed")
        .dir(Direction::Ltr)
        .lang("en-GB")
        .tag("ci")
        .icon("https://ci.example.com/icon.png")
        .silent(true)
        .data(serde_json::json!({"run": 42}))
        .app_badge(7)
        .mutable(true)
        .build()
        .unwrap();
    let json = built.to_json();
    let object = parse_declarative(&json).unwrap();
    assert_eq!(object["app_badge"], 7);
    assert_eq!(object["dir"], "ltr");
    assert_eq!(object["data"]["run"], 42);
    let plain: Value = serde_json::from_str(&built.to_plain_json()).unwrap();
    assert!(plain.get("web_push").is_none());
    assert_eq!(plain["notification"], Value::Object(object));
    assert_eq!(
        parse_declarative(&built.to_plain_json()),
        Err(NotificationError::NotDeclarative)
    );
}

#[test]
fn big_badges_are_digit_strings() {
    for (badge, want) in [
        (0, Value::from(0)),
        (MAX_NUMERIC_APP_BADGE, Value::from(MAX_NUMERIC_APP_BADGE)),
        (MAX_NUMERIC_APP_BADGE + 1, Value::from("2147483648")),
        (u64::MAX, Value::from("18446744073709551615")),
    ] {
        let n = Notification::builder("t", "https://e.example/")
            .app_badge(badge)
            .build()
            .unwrap();
        assert_eq!(n.as_json_object()["app_badge"], want);
        parse_declarative(&n.to_json()).unwrap();
    }
}

#[test]
fn builder_refuses_what_webkit_refuses() {
    assert_eq!(
        Notification::builder("", "https://e.example/").build(),
        Err(NotificationError::Title)
    );
    for bad in [
        "/relative",
        "e.example/x",
        "javascript:alert(1)",
        "ftp://e.example/",
        "https://",
    ] {
        let err = Notification::builder("t", bad).build().unwrap_err();
        assert_eq!(
            err,
            NotificationError::Member {
                member: "navigate",
                rule: "must be an absolute https or http URL"
            },
            "{bad}"
        );
        assert!(!err.to_string().contains(bad), "{err}");
    }
    let err = Notification::builder("t", "https://e.example/")
        .icon("icon.png")
        .build()
        .unwrap_err();
    assert!(matches!(
        err,
        NotificationError::Member { member: "icon", .. }
    ));
}

#[test]
fn to_payload_checks_size_after_padding() {
    let body = "b".repeat(3000);
    let n = Notification::builder("t", "https://e.example/")
        .body(&body)
        .build()
        .unwrap();
    let len = n.to_json().len();
    assert_eq!(n.to_payload(Padding::None).unwrap().len(), len);
    assert_eq!(
        n.to_payload(Padding::FixedSize(len - 1)),
        Err(NotificationError::TooLarge { len, max: len - 1 })
    );
    let huge = Notification::builder("t", "https://e.example/")
        .body(&"b".repeat(MAX_PLAINTEXT_LEN))
        .build()
        .unwrap();
    assert!(matches!(
        huge.to_payload(Padding::None),
        Err(NotificationError::TooLarge {
            max: MAX_PLAINTEXT_LEN,
            ..
        })
    ));
    assert!(matches!(
        huge.to_plain_payload(Padding::None),
        Err(NotificationError::TooLarge { .. })
    ));
}

proptest::proptest! {
    /// Whatever the builder accepts, WebKit's rules accept.
    #[test]
    fn built_payloads_always_pass_webkit_rules(
        title in "\\PC{1,40}",
        body in proptest::option::of("\\PC{0,80}"),
        tag in proptest::option::of("\\PC{0,20}"),
        lang in proptest::option::of("[a-zA-Z-]{0,10}"),
        badge in proptest::option::of(proptest::prelude::any::<u64>()),
        silent in proptest::option::of(proptest::prelude::any::<bool>()),
        path in "[a-z0-9/]{0,30}",
    ) {
        let mut b = Notification::builder(&title, &format!("https://e.example/{path}"));
        if let Some(body) = &body { b = b.body(body); }
        if let Some(tag) = &tag { b = b.tag(tag); }
        if let Some(lang) = &lang { b = b.lang(lang); }
        if let Some(badge) = badge { b = b.app_badge(badge); }
        if let Some(silent) = silent { b = b.silent(silent); }
        let n = b.build().unwrap();
        let object = parse_declarative(&n.to_json()).unwrap();
        proptest::prop_assert_eq!(&object, n.as_json_object());
    }

    /// The validator is total: any text gives a result, never a panic.
    #[test]
    fn parse_declarative_is_total(text in "\\PC{0,200}") {
        let _ = parse_declarative(&text);
    }
}
