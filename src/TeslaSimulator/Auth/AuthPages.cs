using System.Net;
using System.Text;
using TeslaSimulator.State;

namespace TeslaSimulator.Auth;

/// <summary>Plain server-rendered HTML for sign-in, consent and errors. No JavaScript; every value is encoded.</summary>
internal static class AuthPages
{
    private const string Css = """
        body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;background:#f4f4f4;color:#171a20;margin:0}
        header{background:#fff;padding:18px 32px;font-weight:600;letter-spacing:.3em;border-bottom:1px solid #e2e3e3}
        main{max-width:420px;margin:48px auto;background:#fff;padding:32px;border-radius:8px;box-shadow:0 1px 4px #0001}
        h1{font-size:24px;font-weight:500;margin-top:0} label{display:block;margin:14px 0 6px;font-size:14px;color:#5c5e62}
        input[type=email],input[type=password]{width:100%;box-sizing:border-box;padding:10px;border:1px solid #d0d1d2;border-radius:4px;background:#f4f4f4}
        button{width:100%;padding:11px;margin-top:14px;border:0;border-radius:4px;font-size:14px;cursor:pointer}
        .primary{background:#3e6ae1;color:#fff}.secondary{background:#f4f4f4;color:#171a20}
        .error{background:#fdecea;color:#b3261e;padding:10px;border-radius:4px;font-size:14px}
        .hint{font-size:13px;color:#5c5e62;margin-top:24px} .scope{display:flex;gap:10px;margin:12px 0;font-size:14px}
        .scope small{display:block;color:#5c5e62} .granted{color:#5c5e62}
        """;

    public static IResult Html(string title, string body, int status = 200) => TypedResults.Content(
        $"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{E(title)}</title><style>{Css}</style></head>" +
        $"<body><header>TESLA</header><main>{body}</main></body></html>", "text/html; charset=utf-8", Encoding.UTF8, status);

    public static IResult Error(string message, int status = 400) =>
        Html("Error", $"<h1>Something went wrong</h1><p class=\"error\">{E(message)}</p>", status);

    public static IResult SignIn(PendingAuthorization p, IEnumerable<SimAccount> demoAccounts, string? error = null)
    {
        var hints = string.Join("", demoAccounts.Select(a => $"<li><code>{E(a.Email)}</code> / <code>{E(a.Password)}</code></li>"));
        return Html("Sign In", $"""
            <h1>Sign In</h1>
            {(error is null ? "" : $"<p class=\"error\">{E(error)}</p>")}
            <form method="post" action="/oauth2/v3/authorize">
              <input type="hidden" name="transaction_id" value="{E(p.Id)}">
              <label for="email">Email</label><input id="email" type="email" name="identity" autocomplete="username">
              <label for="password">Password</label><input id="password" type="password" name="credential" autocomplete="current-password">
              <button class="primary" type="submit" name="action" value="login">Sign In</button>
              <button class="secondary" type="submit" name="action" value="cancel">Cancel</button>
            </form>
            <div class="hint">Tesla simulator demo accounts:<ul>{hints}</ul></div>
            """);
    }

    public static IResult Consent(PendingAuthorization p, IReadOnlySet<string> alreadyGranted, IReadOnlyList<string> offered, string? error = null)
    {
        var sb = new StringBuilder();
        foreach (var scope in p.Scopes.Where(s => s == Scopes.OpenId || alreadyGranted.Contains(s)))
            sb.Append($"<div class=\"scope granted\"><input type=\"checkbox\" checked disabled><div>{E(Scopes.Describe(scope))}<small>{E(scope)} · {(alreadyGranted.Contains(scope) ? "already granted" : "always included")}</small></div></div>");
        foreach (var scope in offered.Where(s => s != Scopes.OpenId))
            sb.Append($"<label class=\"scope\"><input type=\"checkbox\" name=\"scope\" value=\"{E(scope)}\"><div>{E(Scopes.Describe(scope))}<small>{E(scope)}</small></div></label>");
        return Html("Allow access", $"""
            <h1>Allow {E(p.Client.Name)} to access your Tesla account</h1>
            <p>Signed in as <strong>{E(p.Account!.Email)}</strong></p>
            {(error is null ? "" : $"<p class=\"error\">{E(error)}</p>")}
            <form method="post" action="/oauth2/v3/authorize/consent">
              <input type="hidden" name="transaction_id" value="{E(p.Id)}">
              <label class="scope"><input type="checkbox" name="select_all" value="true" onchange="for (const b of this.form.querySelectorAll('input[name=scope]')) b.checked = this.checked"><div><strong>Select all</strong> <small>(works without script too: ticking it grants every scope listed)</small></div></label>
              {sb}
              <button class="primary" type="submit" name="action" value="allow">Allow</button>
              <button class="secondary" type="submit" name="action" value="deny">Deny</button>
            </form>
            """);
    }

    public static string E(string? s) => WebUtility.HtmlEncode(s ?? "");
}
