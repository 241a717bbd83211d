//! The few HTML pages a person sees during sign-in: consent, device code
//! entry, errors. Plain forms, no script (the lab serves no JavaScript and
//! the app's CSP would not matter here anyway: this is the browser).

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use super::error::AadError;
use crate::directory::User;

pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>\
         body{{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;color:#1b1b1b}}\
         h1{{font-size:1.4rem}} .who{{display:block;width:100%;text-align:left;margin:.4rem 0;padding:.7rem;\
         font-size:1rem;border:1px solid #8a8886;background:#fff;cursor:pointer}} .who:hover{{background:#f3f2f1}}\
         .muted{{color:#605e5c;font-size:.9rem}} code{{font-size:1.1rem}}\
         </style></head><body>\n<p class=\"muted\">Warmline lab &middot; stand-in for Microsoft Entra ID</p>\n\
         {body}\n</body></html>\n",
        title = escape(title)
    );
    let mut response = (status, Html(html)).into_response();
    // The pages carry one-time form fields; never cache them.
    super::error::no_store(&mut response);
    response
}

/// The error page Entra shows when it cannot redirect back to the app.
pub(crate) fn error(e: &AadError, now_ms: u64) -> Response {
    let description = e.description(now_ms, &crate::ids::guid(), &crate::ids::guid());
    let body = format!(
        "<h1>Sorry, but we're having trouble signing you in.</h1>\n<p><b>{}</b></p>\n<pre class=\"muted\">{}</pre>",
        escape(e.error),
        escape(&description)
    );
    page(e.status, "Sign in to your account", &body)
}

/// The consent page: who signs in, and what the app may do.
pub(crate) fn consent(
    action: &str,
    request_id: &str,
    org: &str,
    client_id: &str,
    scopes: &[String],
    people: &[&User],
    hint: Option<&str>,
) -> Response {
    let permissions: String = scopes.iter().map(|s| format!("<li>{}</li>", escape(s))).collect();
    let buttons: String = people
        .iter()
        .map(|u| {
            let mark = if hint.is_some_and(|h| h.eq_ignore_ascii_case(&u.upn)) { " (suggested)" } else { "" };
            format!(
                "<button class=\"who\" type=\"submit\" name=\"user\" value=\"{upn}\">Sign in as <b>{name}</b>{mark}\
                 <br><span class=\"muted\">{upn}</span></button>",
                upn = escape(&u.upn),
                name = escape(&u.display_name)
            )
        })
        .collect();
    let body = format!(
        "<h1>Permissions requested</h1>\n<p>The app <b>Warmline</b> (<span class=\"muted\">{client}</span>) \
         asks to sign you in to <b>{org}</b> and to:</p>\n<ul>{permissions}</ul>\n\
         <form method=\"post\" action=\"{action}\">\n<input type=\"hidden\" name=\"request\" value=\"{request}\">\n\
         {buttons}\n<p><button type=\"submit\" name=\"cancel\" value=\"1\">Cancel</button></p>\n</form>",
        client = escape(client_id),
        org = escape(org),
        action = escape(action),
        request = escape(request_id),
    );
    page(StatusCode::OK, "Permissions requested", &body)
}

/// `response_mode=form_post`: the code goes back in a form the user submits
/// (Entra submits it with script; the lab has none, so there is a button).
pub(crate) fn form_post(redirect_uri: &str, fields: &[(&str, String)]) -> Response {
    let inputs: String = fields
        .iter()
        .map(|(k, v)| format!("<input type=\"hidden\" name=\"{}\" value=\"{}\">", escape(k), escape(v)))
        .collect();
    let body = format!(
        "<h1>Signed in</h1>\n<form method=\"post\" action=\"{}\">{inputs}\
         <button type=\"submit\">Continue to Warmline</button></form>",
        escape(redirect_uri)
    );
    page(StatusCode::OK, "Working...", &body)
}

/// Where a person types the device code.
pub(crate) fn device(people: &[&User], pending: usize) -> Response {
    let options: String = people
        .iter()
        .map(|u| format!("<option value=\"{}\">{}</option>", escape(&u.upn), escape(&u.display_name)))
        .collect();
    let body = format!(
        "<h1>Enter code</h1>\n<p>Enter the code displayed on your app or device.</p>\n\
         <form method=\"post\" action=\"devicelogin\">\n\
         <p><label>Code <input name=\"user_code\" autocomplete=\"off\" required></label></p>\n\
         <p><label>Sign in as <select name=\"user\">{options}</select></label></p>\n\
         <p><button type=\"submit\" name=\"decision\" value=\"approve\">Sign in</button>\n\
         <button type=\"submit\" name=\"decision\" value=\"deny\">Cancel</button></p>\n</form>\n\
         <p class=\"muted\">{pending} code(s) waiting.</p>"
    );
    page(StatusCode::OK, "Enter code", &body)
}

/// The answer to a device code decision.
pub(crate) fn device_done(ok: bool, approved: bool) -> Response {
    match (ok, approved) {
        (true, true) => page(
            StatusCode::OK,
            "Signed in",
            "<h1>You have signed in to Warmline on your other device.</h1><p>You may now close this window.</p>",
        ),
        (true, false) => page(StatusCode::OK, "Cancelled", "<h1>Sign-in cancelled.</h1>"),
        (false, _) => page(
            StatusCode::BAD_REQUEST,
            "Enter code",
            "<h1>That code didn't work.</h1><p>Check the code and try again; codes expire after 15 minutes.</p>\
             <p><a href=\"devicelogin\">Try again</a></p>",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_is_escaped() {
        assert_eq!(
            escape("<a href=\"x\">O'Brien & co</a>"),
            "&lt;a href=&quot;x&quot;&gt;O&#39;Brien &amp; co&lt;/a&gt;"
        );
    }
}
