//! Unit tests of the client: backoff, answers classified, settings checked.

use super::*;

#[test]
fn backoff_doubles_up_to_the_cap() {
    let (base, cap) = (Duration::from_millis(100), Duration::from_secs(1));
    let waits: Vec<u128> = (1..=6).map(|n| backoff(base, cap, n).as_millis()).collect();
    assert_eq!(waits, [100, 200, 400, 800, 1000, 1000]);
    assert_eq!(backoff(base, cap, u32::MAX), cap);
}

#[test]
fn retry_after_reads_seconds_only() {
    let header = |value: &str| {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, value.parse().unwrap());
        retry_after(&headers)
    };
    assert_eq!(header("3"), Some(Duration::from_secs(3)));
    assert_eq!(header(" 0 "), Some(Duration::ZERO));
    assert_eq!(header("1.5"), Some(Duration::from_millis(1500)));
    assert_eq!(header("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    assert_eq!(header("-1"), None);
    assert_eq!(retry_after(&HeaderMap::new()), None);
}

#[test]
fn statuses_sort_into_pages_retries_and_failures() {
    let body = br#"{"errors":[{"message":"Invalid authentication","long_message":"Unable to authenticate the request","code":"authentication_invalid"}]}"#;
    assert!(classify(StatusCode::OK, None, b"[]").is_ok());
    for (status, expected) in [(401, 401), (403, 403)] {
        match classify(StatusCode::from_u16(status).unwrap(), None, body) {
            Err(Failure::Fatal(ClerkError::Unauthorized { status, message })) => {
                assert_eq!(status, expected);
                assert_eq!(
                    message,
                    "Unable to authenticate the request (authentication_invalid)"
                );
            }
            _ => panic!("{status} is not Unauthorized"),
        }
    }
    for status in [500, 502, 503, 504, 408] {
        assert!(matches!(
            classify(StatusCode::from_u16(status).unwrap(), None, b""),
            Err(Failure::Transient(_))
        ));
    }
    for status in [400, 404, 422, 302] {
        assert!(matches!(
            classify(StatusCode::from_u16(status).unwrap(), None, b"nope"),
            Err(Failure::Fatal(ClerkError::Rejected { .. }))
        ));
    }
    assert!(matches!(
        classify(
            StatusCode::TOO_MANY_REQUESTS,
            Some(Duration::from_secs(2)),
            b""
        ),
        Err(Failure::RateLimited(Some(_)))
    ));
}

#[test]
fn error_messages_of_other_shapes_are_cut_short() {
    assert_eq!(error_message(b""), "no error message");
    assert_eq!(
        error_message(b"<html>bad gateway</html>"),
        "<html>bad gateway</html>"
    );
    let long = "x".repeat(1000);
    assert_eq!(error_message(long.as_bytes()).chars().count(), 201);
    assert_eq!(
        error_message(br#"{"errors":[{"message":"a","code":"c1"},{"message":"b"}]}"#),
        "a (c1); b"
    );
}

#[test]
fn unauthorized_says_the_key_was_refused_and_quotes_clerk() {
    let err = ClerkError::Unauthorized {
        status: 401,
        message: "Unable to authenticate the request".to_owned(),
    };
    let text = err.to_string();
    assert!(text.contains("refused the secret key"), "{text}");
    assert!(text.contains("another instance"), "{text}");
    assert!(
        text.contains("Unable to authenticate the request"),
        "{text}"
    );
}

#[test]
fn settings_are_checked() {
    let bad = [
        ClientSettings {
            api_url: "api.clerk.com".into(),
            ..ClientSettings::default()
        },
        ClientSettings {
            api_url: "ftp://api.clerk.com".into(),
            ..ClientSettings::default()
        },
        ClientSettings {
            api_url: "https://api.clerk.com/?x=1".into(),
            ..ClientSettings::default()
        },
        ClientSettings {
            page_size: 0,
            ..ClientSettings::default()
        },
        ClientSettings {
            page_size: 501,
            ..ClientSettings::default()
        },
        ClientSettings {
            overlap: 500,
            ..ClientSettings::default()
        },
        ClientSettings {
            limits: RateLimits {
                development: RateLimit {
                    requests: 0,
                    window: Duration::from_secs(1),
                },
                ..RateLimits::default()
            },
            ..ClientSettings::default()
        },
        ClientSettings {
            timeout: Duration::ZERO,
            ..ClientSettings::default()
        },
    ];
    for settings in bad {
        assert!(ClerkClient::new(settings.clone()).is_err(), "{settings:?}");
    }
    let client = ClerkClient::new(ClientSettings {
        api_url: "http://127.0.0.1:9/".into(),
        ..ClientSettings::default()
    })
    .unwrap();
    for kind in ListKind::ALL {
        assert_eq!(
            client.url(kind).as_str(),
            format!("http://127.0.0.1:9{}", kind.path())
        );
    }
    let behind_a_proxy = ClerkClient::new(ClientSettings {
        api_url: "https://proxy.example/clerk".into(),
        ..ClientSettings::default()
    })
    .unwrap();
    assert_eq!(
        behind_a_proxy.url(ListKind::Roles).as_str(),
        "https://proxy.example/clerk/v1/organization_roles"
    );
    let default = ClerkClient::new(ClientSettings::default()).unwrap();
    assert_eq!(
        default.url(ListKind::Users).as_str(),
        "https://api.clerk.com/v1/users"
    );
}

#[tokio::test]
async fn a_cursor_of_the_other_paging_is_refused_before_any_request() {
    let client = ClerkClient::new(ClientSettings {
        api_url: "http://127.0.0.1:9".into(),
        ..ClientSettings::default()
    })
    .unwrap();
    let key = ClerkSecretKey::parse("sk_test_0123456789abcdefghijKLM").unwrap();
    let err = client
        .list(
            &key,
            ListKind::Users,
            &Cursor::start(ListKind::Organizations),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ClerkError::WrongCursor {
            kind: ListKind::Users
        }
    );
    assert!(err.to_string().contains("starting_after"), "{err}");
}
