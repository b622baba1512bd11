using System.Text;
using static TeslaSimulator.Auth.AuthPages;

namespace TeslaSimulator.DevIdentity;

/// <summary>The dev provider's pages: plain HTML forms, every value encoded, a banner that says what this is.</summary>
internal static class DevIdentityPages
{
    private const string Css = """
        body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;background:#f4f4f4;color:#171a20;margin:0}
        .banner{background:#8a4b00;color:#fff;padding:12px 32px;font-size:14px}
        main{max-width:460px;margin:40px auto;background:#fff;padding:32px;border-radius:8px;box-shadow:0 1px 4px #0001}
        h1{font-size:22px;font-weight:500;margin-top:0} label{display:block;margin:14px 0 6px;font-size:14px;color:#5c5e62}
        input[type=email],input[type=password]{width:100%;box-sizing:border-box;padding:10px;border:1px solid #d0d1d2;border-radius:4px}
        button{width:100%;padding:11px;margin-top:14px;border:0;border-radius:4px;font-size:14px;cursor:pointer;background:#3e6ae1;color:#fff}
        button.secondary{background:#e2e3e3;color:#171a20} .error{background:#fdecea;color:#b3261e;padding:10px;border-radius:4px}
        table{width:100%;border-collapse:collapse;font-size:13px;margin-top:8px} td,th{text-align:left;padding:4px 6px;border-bottom:1px solid #eee}
        """;

    public static IResult Html(string title, string body, int status = 200) => TypedResults.Content(
        $"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{E(title)}</title><style>{Css}</style></head><body>" +
        "<div class=\"banner\"><strong>Development identity provider</strong> (Tesla simulator): demo people with published " +
        "passwords. A stand-in for a real OpenID provider; never use it outside a demo.</div>" +
        $"<main>{body}</main></body></html>", "text/html; charset=utf-8", Encoding.UTF8, status);

    public static IResult Error(string message, int status = 400) =>
        Html("Error", $"<h1>Something went wrong</h1><p class=\"error\">{E(message)}</p>", status);

    public static IResult SignIn(DevSignIn signIn, IEnumerable<DevPerson> people, string? email = null, string? error = null)
    {
        var rows = string.Join("", people.Select(p =>
            $"<tr><td><code>{E(p.Email)}</code></td><td><code>{E(p.Password)}</code></td><td>{E(string.Join(", ", p.Groups))}</td></tr>"));
        return Html("Sign in", $"""
            <h1>Sign in to {E(signIn.Client.ClientId)}</h1>
            {(error is null ? "" : $"<p class=\"error\">{E(error)}</p>")}
            <form method="post" action="/dev-idp/authorize">
              <input type="hidden" name="transaction_id" value="{E(signIn.Id)}">
              <label for="email">Email</label><input id="email" type="email" name="email" value="{E(email)}" autocomplete="username">
              <label for="password">Password</label><input id="password" type="password" name="password" autocomplete="current-password">
              <button type="submit" name="action" value="sign_in">Sign in</button>
              <button class="secondary" type="submit" name="action" value="cancel">Cancel</button>
            </form>
            <p>Demo people:</p>
            <table><tr><th>Email</th><th>Password</th><th>Groups</th></tr>{rows}</table>
            """);
    }

    /// <summary>
    /// response_mode=form_post: a form the browser posts to the client. One line of script submits it at once; without
    /// script the person presses Continue.
    /// </summary>
    public static IResult FormPost(string redirectUri, IEnumerable<(string Key, string Value)> fields)
    {
        var inputs = string.Join("", fields.Select(f => $"<input type=\"hidden\" name=\"{E(f.Key)}\" value=\"{E(f.Value)}\">"));
        return Html("Signing in", $"""
            <h1>Signing in…</h1>
            <form method="post" action="{E(redirectUri)}">{inputs}<button type="submit">Continue</button></form>
            <script>document.forms[0].submit()</script>
            """);
    }

    public static IResult SignedOut() => Html("Signed out",
        "<h1>Signed out</h1><p>You are signed out. This provider keeps no session of its own: the next sign-in asks again.</p>");
}
