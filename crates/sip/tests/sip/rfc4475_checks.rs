//! Per-message field checks for the valid RFC 4475 messages: each checks
//! what its INDEX.tsv row says the message is about.

use warmline_sip::message::{Contact, Host, Method, NameAddr, Transport, Uri, unescape};
use warmline_sip::{HeaderName, Message, Request, Response};

fn req<'a>(file: &str, m: &'a Message) -> &'a Request {
    m.as_request().unwrap_or_else(|| panic!("{file} is a request"))
}

fn resp<'a>(file: &str, m: &'a Message) -> &'a Response {
    m.as_response().unwrap_or_else(|| panic!("{file} is a response"))
}

fn other(name: &str) -> HeaderName {
    HeaderName::Other(name.to_owned())
}

fn sip_user(uri: &Uri) -> Vec<u8> {
    uri.as_sip().and_then(|u| u.user_unescaped()).expect("SIP URI with a user")
}

fn addresses(contacts: Vec<Contact>) -> Vec<NameAddr> {
    contacts
        .into_iter()
        .map(|c| match c {
            Contact::Address(a) => a,
            Contact::Wildcard => panic!("unexpected wildcard"),
        })
        .collect()
}

pub(crate) fn check(file: &str, m: &Message) {
    let h = m.headers();
    let name = file.trim_start_matches("valid/").trim_end_matches(".dat");
    match name {
        "wsinv" => {
            let r = req(file, m);
            assert_eq!(r.method, Method::Invite);
            assert!(r.uri.as_sip().is_some_and(|u| u.params.contains("unknownparam")));
            assert_eq!(h.to().expect("To").tag(), Some("1918181833n"));
            let from = h.from().expect("From");
            assert_eq!(from.display_name.as_deref(), Some(r#"J Rosenberg \""#));
            assert_eq!(from.tag(), Some("98asjd8"));
            assert_eq!(h.max_forwards().expect("Max-Forwards"), Some(68), "leading zeros");
            let cseq = h.cseq().expect("CSeq");
            assert_eq!((cseq.seq, cseq.method), (9, Method::Invite), "folded CSeq with leading zeros");
            let vias = h.vias().expect("Via");
            let summary: Vec<_> = vias.iter().map(|v| (v.transport.clone(), v.branch())).collect();
            assert_eq!(
                summary,
                [
                    (Transport::Udp, Some("390skdjuw")),
                    (Transport::Tcp, Some("z9hG4bK9ikj8")),
                    (Transport::Udp, Some("z9hG4bK30239"))
                ]
            );
            assert_eq!(h.get(&HeaderName::Subject), Some(""), "empty Subject (s:)");
            assert_eq!(h.get(&other("NewFangledHeader")), Some("newfangled value continued newfangled value"));
            assert_eq!(h.get(&other("UnknownHeaderWithUnusualValue")), Some(";;,,;;,;"));
            let route = h.routes().expect("Route");
            let route_params = &route.first().and_then(|r| r.uri.as_sip()).expect("SIP route").params;
            assert!(route_params.contains("lr") && route_params.contains("unknown-no-value"));
            assert_eq!(route_params.get("unknownwith"), Some(Some("value")));
            let contact = addresses(h.contacts().expect("Contact"));
            let c = contact.first().expect("one contact");
            assert_eq!(c.display_name.as_deref(), Some(r#"Quoted string """#));
            assert_eq!(c.params.get("newparam"), Some(Some("newvalue")));
            assert!(c.params.contains("secondparam"));
            assert_eq!(c.params.get("q"), Some(Some("0.33")));
            assert_eq!(m.body().len(), 150);
        }
        "intmeth" => {
            let r = req(file, m);
            assert_eq!(r.method, Method::Extension("!interesting-Method0123456789_*+`.%indeed'~".into()));
            let uri = r.uri.as_sip().expect("SIP URI");
            assert_eq!(uri.user.as_deref(), Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"));
            assert_eq!(uri.password.as_deref(), Some("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"));
            assert_eq!(h.top_via().expect("Via").branch(), Some("z9hG4bK-.!%66*_+`'~"));
            let to = h.to().expect("To").display_name.expect("display name");
            assert_eq!(to, "BEL:\x07 NUL:\0 DEL:\x7f", "quoted-pairs of control characters");
            let from = h.from().expect("From");
            assert_eq!(from.display_name.as_deref(), Some("token1~` token2'+_ token3*%!.-"));
            assert_eq!(from.tag(), Some("_token~1'+`*%!-."));
            let param = from.params.iter().find(|p| p.name == "fromParam''~+*_!.-%").expect("fromParam");
            assert_eq!(param.value_unquoted().as_deref(), Some("работающий"));
            assert_eq!(h.call_id().expect("Call-ID"), "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{");
            assert_eq!(h.cseq().expect("CSeq").method, r.method);
            assert_eq!(h.max_forwards().expect("Max-Forwards"), Some(255));
            assert_eq!(h.get(&other("extensionHeader-!.%*+_`'~")), Some("\u{feff}大停電"));
        }
        "esc01" => {
            let r = req(file, m);
            assert_eq!(sip_user(&r.uri), b"sips:user@example.com");
            assert_eq!(sip_user(&h.to().expect("To").uri), b"user");
            assert_eq!(sip_user(&h.from().expect("From").uri), b"I have spaces");
            let contact = addresses(h.contacts().expect("Contact"));
            let uri = contact.first().and_then(|c| c.uri.as_sip()).expect("SIP contact");
            assert_eq!(uri.user_unescaped().as_deref(), Some(&b"caller"[..]));
            assert!(uri.params.contains("%6C%72"), "escaped param name kept as written");
            let value = uri.params.get("n%61me").flatten().expect("escaped param");
            assert_eq!(value, "v%61lue%25%34%31");
            assert_eq!(unescape(value), b"value%41", "unescaped once, never to valueA");
        }
        "escnull" => {
            assert_eq!(sip_user(&h.to().expect("To").uri), b"null-\0-null", "AOR not truncated at %00");
            let users: Vec<_> = addresses(h.contacts().expect("Contact")).iter().map(|c| sip_user(&c.uri)).collect();
            assert_eq!(users, [b"\0".to_vec(), b"\0\0".to_vec()], "two distinct contacts");
        }
        "esc02" => {
            let r = req(file, m);
            assert_eq!(r.method, Method::Extension("RE%47IST%45R".into()), "not REGISTER");
            assert_eq!(h.to().expect("To").display_name.as_deref(), Some("%Z%45"));
            assert_eq!(h.contacts().expect("Contact").len(), 2, "C%6Fntact is another header");
            assert_eq!(h.get(&other("C%6Fntact")), Some("<sip:alias2@host2.example.com>"));
        }
        "lwsdisp" => {
            let from = h.from().expect("From");
            assert_eq!((from.display_name.as_deref(), from.tag()), (Some("caller"), Some("323")));
        }
        "longreq" => {
            let to = h.to().expect("To");
            assert!(to.display_name.as_deref().is_some_and(|d| d.starts_with("I have a user name of extreme")));
            let vias = h.vias().expect("Via");
            assert_eq!(vias.len(), 34);
            assert_eq!(vias.last().and_then(|v| v.received()), Some("192.0.2.5"));
            assert!(h.call_id().expect("Call-ID").len() > 100);
            let unknown = h.iter().find(|x| x.name.as_str().starts_with("Unknown-LongLong")).expect("unknown header");
            assert!(unknown.value.len() > 100);
            assert_eq!(m.body().len(), 150);
        }
        "dblreq" => {
            assert_eq!(req(file, m).method, Method::Register);
            assert!(m.body().is_empty(), "octets after Content-Length 0 are ignored");
            assert_eq!(h.call_id().expect("Call-ID"), "dblreq.0ha0isndaksdj99sdfafnl3lk233412");
        }
        "semiuri" => {
            let uri = req(file, m).uri.as_sip().expect("SIP URI").clone();
            assert_eq!(uri.user.as_deref(), Some("user;par=u%40example.net"));
            assert_eq!(uri.host, Host::Name("example.com".into()));
            assert!(uri.params.is_empty());
            assert_eq!(h.tokens(&HeaderName::Accept).count(), 6, "folded Accept");
        }
        "transports" => {
            let t: Vec<_> = h.vias().expect("Via").into_iter().map(|v| v.transport).collect();
            assert_eq!(
                t,
                [Transport::Udp, Transport::Sctp, Transport::Tls, Transport::Other("UNKNOWN".into()), Transport::Tcp]
            );
        }
        "mpart01" => {
            assert_eq!(m.body().len(), 553, "framed by Content-Length");
            assert!(m.body().contains(&0), "binary part kept");
            assert!(h.content_type().expect("Content-Type").is_some_and(|c| c.starts_with("multipart/mixed")));
            assert_eq!(h.top_via().expect("Via").rport(), Some(None));
        }
        "unreason" => {
            let r = resp(file, m);
            assert_eq!(r.status, 200);
            assert!(r.reason.starts_with("= 2**3 * 5**2 ") && !r.reason.is_ascii());
        }
        "noreason" => {
            let r = resp(file, m);
            assert_eq!((r.status, r.reason.as_str()), (100, ""));
        }
        "badbranch" => {
            let via = h.top_via().expect("Via");
            assert_eq!(via.branch(), Some("z9hG4bK"), "cookie with nothing after it");
        }
        "unkscm" | "novelsc" => {
            let scheme = if name == "unkscm" { "nobodyKnowsThisScheme" } else { "soap.beep" };
            assert!(matches!(&req(file, m).uri, Uri::Other { scheme: s, .. } if s == scheme));
        }
        "unksm2" => {
            assert!(matches!(h.to().expect("To").uri, Uri::Other { ref scheme, .. } if scheme == "isbn"));
            assert!(matches!(h.from().expect("From").uri, Uri::Other { ref scheme, .. } if scheme == "http"));
            let contact = addresses(h.contacts().expect("Contact"));
            assert!(matches!(contact.first().map(|c| &c.uri), Some(Uri::Other { scheme, .. }) if scheme == "name"));
        }
        "bext01" => {
            let require: Vec<_> = h.tokens(&HeaderName::Require).collect();
            assert_eq!(require, ["nothingSupportsThis", "nothingSupportsThisEither"]);
            let proxy: Vec<_> = h.tokens(&HeaderName::ProxyRequire).collect();
            assert_eq!(proxy, ["noProxiesSupportThis", "norDoAnyProxiesSupportThis"]);
        }
        "invut" => {
            assert_eq!(h.content_type().expect("Content-Type"), Some("application/unknownformat"));
            assert_eq!(m.body().len(), 40);
        }
        "regaut01" => {
            assert_eq!(h.get(&HeaderName::Authorization), Some("NoOneKnowsThisScheme opaque-data=here"));
        }
        "bcast" => {
            let vias = h.vias().expect("Via");
            assert_eq!(resp(file, m).status, 200);
            assert_eq!(vias.get(1).map(|v| &v.host), Some(&Host::V4(std::net::Ipv4Addr::BROADCAST)));
        }
        "zeromf" => assert_eq!(h.max_forwards().expect("Max-Forwards"), Some(0)),
        "cparam01" | "cparam02" => {
            let contact = addresses(h.contacts().expect("Contact"));
            let c = contact.first().expect("contact");
            let in_uri = c.uri.as_sip().is_some_and(|u| u.params.contains("unknownparam"));
            let in_header = c.params.contains("unknownparam");
            // addr-spec form: a header parameter; in <>: a URI parameter.
            assert_eq!((in_uri, in_header), if name == "cparam01" { (false, true) } else { (true, false) });
        }
        "regescrt" => {
            let contact = addresses(h.contacts().expect("Contact"));
            let uri = contact.first().and_then(|c| c.uri.as_sip()).expect("SIP contact");
            assert_eq!(uri.headers, [("Route".to_owned(), "%3Csip:sip.example.com%3E".to_owned())]);
        }
        "sdp01" => {
            assert_eq!(h.get(&HeaderName::Accept), Some("text/nobodyKnowsThis"));
            assert_eq!(h.content_type().expect("Content-Type"), Some("application/sdp"));
        }
        "inv2543" => {
            assert_eq!(h.max_forwards().expect("Max-Forwards"), None);
            let via = h.top_via().expect("Via");
            assert_eq!(via.branch(), None, "RFC 2543: no branch");
            assert!(h.to().expect("To").params.contains("user"), "addr-spec: user=phone is a header param");
            assert_eq!(h.record_routes().expect("Record-Route").len(), 1);
            assert!(m.body().starts_with(b"v=0") && m.body().ends_with(b"RTP/AVP 0\r\n"), "no Content-Length");
        }
        other => panic!("no field check written for {other}"),
    }
}
