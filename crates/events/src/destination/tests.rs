use super::*;

fn parse(text: &str) -> DestinationUrl {
    DestinationUrl::parse(text).unwrap_or_else(|err| panic!("{text}: {err}"))
}

#[test]
fn http_urls_keep_the_rules_they_had() {
    for ok in [
        "https://example.com/hooks",
        "http://127.0.0.1:9000/x?y=1",
        "https://[::1]:8443/",
        "https://api.example.com",
    ] {
        let url = parse(ok);
        assert_eq!(url.kind(), DestinationKind::Http);
        assert_eq!(url.redacted(), ok);
        assert!(!url.has_credentials());
    }
    for bad in [
        "ftp://example.com",
        "example.com",
        "https://",
        "https:///path",
        "https://user:pw@example.com/",
        "https://exa mple.com/",
        &format!("https://example.com/{}", "a".repeat(2100)),
    ] {
        assert!(DestinationUrl::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn queue_urls_name_their_kind_and_render_their_templates() {
    let nats = parse("nats://127.0.0.1:4222?subject=clerk.{tenant}.{type}");
    assert_eq!(nats.kind(), DestinationKind::Nats);
    let Target::Nats {
        server,
        auth,
        subject,
    } = nats.target()
    else {
        panic!("not nats")
    };
    assert_eq!(server, "127.0.0.1:4222");
    assert_eq!(auth, &NatsAuth::None);
    assert_eq!(
        subject.render("acme", "user.created"),
        "clerk.acme.user.created"
    );

    let amqp = parse("amqp://guest:guest@localhost:5672/%2f?exchange=clerk&heartbeat=10");
    let Target::Amqp {
        uri,
        exchange,
        routing_key,
    } = amqp.target()
    else {
        panic!("not amqp")
    };
    assert_eq!(uri, "amqp://guest:guest@localhost:5672/%2f?heartbeat=10");
    assert_eq!(exchange, "clerk");
    // The routing key defaults to the event type.
    assert_eq!(routing_key.render("acme", "user.deleted"), "user.deleted");

    let redis = parse("redis://localhost:6379/2?stream=clerk:{tenant}&maxlen=100000");
    let Target::Redis {
        uri,
        stream,
        maxlen,
    } = redis.target()
    else {
        panic!("not redis")
    };
    assert_eq!(uri, "redis://localhost:6379/2");
    assert_eq!(stream.render("acme", "user.created"), "clerk:acme");
    assert_eq!(*maxlen, Some(100_000));
    assert_eq!(
        parse("rediss://h/0?stream=s").kind(),
        DestinationKind::Redis
    );
}

#[test]
fn credentials_are_kept_apart_from_the_shown_url() {
    let amqp = parse("amqp://hook:s3cr%40t@mq:5672/prod?exchange=clerk");
    assert!(amqp.has_credentials());
    assert_eq!(
        amqp.redacted(),
        "amqp://hook:***@mq:5672/prod?exchange=clerk"
    );
    assert!(amqp.expose().contains("s3cr%40t"));
    assert!(!format!("{amqp:?}").contains("s3cr"));
    assert!(!format!("{:?}", amqp.target()).contains("s3cr"));

    let redis = parse("redis://:pw@cache:6379/0?stream=s");
    assert_eq!(redis.redacted(), "redis://:***@cache:6379/0?stream=s");

    let token = parse("nats://t0ken@n:4222?subject=a");
    assert!(token.has_credentials());
    assert_eq!(token.redacted(), "nats://***@n:4222?subject=a");
    let Target::Nats { auth, .. } = token.target() else {
        panic!("not nats")
    };
    assert_eq!(auth, &NatsAuth::Token("t0ken".into()));
    assert!(!format!("{token:?}").contains("t0ken"));

    let user = parse("nats://me:p%26w@n?subject=a");
    let Target::Nats { auth, server, .. } = user.target() else {
        panic!("not nats")
    };
    assert_eq!(server, "n:4222");
    assert_eq!(
        auth,
        &NatsAuth::UserPassword {
            user: "me".into(),
            password: "p&w".into()
        }
    );

    let creds = parse("nats://n?subject=a&creds=/etc/hookgate/app.creds");
    assert!(!creds.has_credentials());
    let Target::Nats { auth, .. } = creds.target() else {
        panic!("not nats")
    };
    assert_eq!(auth, &NatsAuth::CredsFile("/etc/hookgate/app.creds".into()));

    let plain = parse("amqp://mq/?exchange=clerk");
    assert!(!plain.has_credentials());
    assert_eq!(plain.redacted(), "amqp://mq/?exchange=clerk");
}

#[test]
fn each_fault_is_named() {
    let cases: &[(&str, &str)] = &[
        ("nats://n:4222", "needs the `subject` parameter"),
        (
            "nats://n?subject=a.{tenantt}",
            "unknown placeholder `{tenantt}`",
        ),
        ("nats://n?subject=a.{type", "unmatched brace in `subject`"),
        ("nats://n?subject=a.}", "unmatched brace in `subject`"),
        ("nats://n?subject=a.*", "no wildcard"),
        (
            "nats://n?subject=a&subject=b",
            "`subject` is given more than once",
        ),
        ("nats://n?subject=a&stream=x", "has no parameter `stream`"),
        ("nats://n/x?subject=a", "has no path"),
        (
            "nats://u@n?subject=a&creds=/c",
            "creds file is the only credential",
        ),
        ("amqp://mq/", "needs the `exchange` parameter"),
        (
            "amqp://mq/?exchange=x&routing_key={id}",
            "unknown placeholder `{id}` in `routing_key`",
        ),
        ("amqp://mq/?exchange=&routing_key=", "default exchange"),
        (
            "amqp://mq/?exchange=x&mandatory=1",
            "no parameter `mandatory`",
        ),
        ("redis://r", "needs the `stream` parameter"),
        ("redis://r?stream=s&maxlen=0", "`maxlen` is invalid"),
        ("redis://r?stream=s&maxlen=many", "`maxlen` is invalid"),
        ("redis://r/db?stream=s", "the database number"),
        ("kafka://k", "scheme `kafka` is not one of"),
        ("nats://?subject=a", "no host"),
        ("https://u:p@h/", "no user information"),
    ];
    for (url, expected) in cases {
        let err = DestinationUrl::parse(url).expect_err(url).to_string();
        assert!(err.contains(expected), "{url}: {err}");
    }
}

#[test]
fn templates_render_text_and_both_placeholders_in_order() {
    let t = Template::parse("{type}-{tenant}.x{type}", "t").unwrap();
    assert_eq!(
        t.render("acme", "user.created"),
        "user.created-acme.xuser.created"
    );
    assert_eq!(Template::parse("", "t").unwrap().render("a", "b"), "");
}
