using Broker.Admin.Pages;
using Broker.People;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Broker.Admin;

/// <summary>
/// What every console page handler shares: who may act on which tenant (<see cref="TenantAccess"/>), the page frame
/// (who is signed in, the form token), message and confirmation pages that keep the navigation, and secrets shown once.
/// </summary>
internal static class ConsolePages
{
    /// <summary>The tenant when allowed; otherwise null, with the refusal stashed for <see cref="Denied"/>.</summary>
    public static async Task<TenantAccessResult?> ResolveAsync(HttpContext http, TenantAccess access, string slug, TenantRole needed)
    {
        var result = await access.ResolveAsync(http.User, slug, needed, http.RequestAborted);
        http.Items[typeof(TenantAccessResult)] = result;
        return result.Outcome == AccessOutcome.Allowed ? result : null;
    }

    public static IResult Denied(HttpContext http) =>
        (http.Items[typeof(TenantAccessResult)] as TenantAccessResult)?.Outcome == AccessOutcome.Forbidden
            ? Message(http, "Not allowed", "Your role in this tenant does not allow this. Ask one of the tenant's admins.", 403, back: "/console")
            : Message(http, "Not found", "There is no such tenant, or you are not a member of it.", 404, back: "/console");

    /// <summary>A message page with the console's navigation, so a refusal or an error never strands the person.</summary>
    public static RazorComponentResult<MessagePage> Message(HttpContext http, string title, string message, int status = 200, string tone = "error",
        string? back = null, string backText = "Back") =>
        Page<MessagePage>(new { Title = title, Message = message, Tone = tone, Frame = Frame(http), LinkUrl = back, LinkText = backText }, status);

    /// <summary>"Are you sure?" before an act that cannot be undone: GET shows this, the form posts the act.</summary>
    public static RazorComponentResult<ConfirmPage> Confirm(HttpContext http, string title, string message, string action, string button, string cancel) =>
        Page<ConfirmPage>(new { Frame = Frame(http), Title = title, Message = message, Action = action, Button = button, CancelUrl = cancel });

    public static ConsoleFrame Frame(HttpContext http)
    {
        var tokens = http.RequestServices.GetRequiredService<IAntiforgery>().GetAndStoreTokens(http);
        return new ConsoleFrame(http.User.FindFirst("email")?.Value ?? http.User.Identity?.Name ?? "signed in", http.User.IsOperator(),
            tokens.FormFieldName, tokens.RequestToken);
    }

    public static RazorComponentResult<TPage> Page<TPage>(object parameters, int status = 200) where TPage : Microsoft.AspNetCore.Components.IComponent =>
        new(parameters) { StatusCode = status };

    /// <summary>
    /// Post, redirect, show once. A new key or link is sealed into a short-lived HttpOnly cookie and the browser is sent to
    /// <c>GET /console/secret</c>, which shows it and drops the cookie: reloading shows "already shown" instead of making
    /// another key (a reload of the POST once did), and the secret never sits in a URL or the browser history.
    /// </summary>
    public static IResult ShowOnce(HttpContext http, string title, string message, string secret, string back)
    {
        SealOnce(http, SecretCookie, "/console/secret", new OnceShown(title, message, secret, back, SessionOf(http)), TimeSpan.FromMinutes(5));
        return TypedResults.Redirect("/console/secret");
    }

    /// <summary><c>GET /console/secret</c>: the secret a post just made, once.</summary>
    public static IResult ShowSecret(HttpContext http)
    {
        http.Response.Headers.CacheControl = "no-store";
        var shown = TakeOnce<OnceShown>(http, SecretCookie, "/console/secret");
        // Bound to the console session that made it: a copied cookie shows nothing in another session (another person on a shared browser).
        if (shown is not null && shown.Session != SessionOf(http))
        {
            shown = null;
        }
        return shown is null
            ? Message(http, "Already shown", "A new key or link is shown once, right after it is made, and this one has been. If it was not copied, "
                + "revoke it and make another.", 410, tone: "warn", back: "/console", backText: "Your tenants")
            : Page<MessagePage>(new { Title = shown.Title, Message = shown.Message, Secret = shown.Secret, Tone = "ok", Frame = Frame(http), LinkUrl = shown.Back, LinkText = "Done" });
    }

    /// <summary>
    /// The carrier of post, redirect, show once: <paramref name="value"/> sealed (Data Protection, time-limited) into an HttpOnly,
    /// SameSite=Strict cookie scoped to the page that shows it.
    /// </summary>
    public static void SealOnce<T>(HttpContext http, string cookie, string path, T value, TimeSpan lifetime)
    {
        var sealedValue = Protector(http, cookie).Protect(System.Text.Json.JsonSerializer.Serialize(value), lifetime);
        http.Response.Cookies.Append(cookie, sealedValue, new CookieOptions
        {
            HttpOnly = true, SameSite = SameSiteMode.Strict, Secure = http.Request.IsHttps, Path = path, MaxAge = lifetime,
        });
    }

    /// <summary>What <see cref="SealOnce"/> sealed, dropping the cookie; null when there is none, or it expired or was tampered with.</summary>
    public static T? TakeOnce<T>(HttpContext http, string cookie, string path) where T : class
    {
        if (http.Request.Cookies[cookie] is not { } sealedValue)
        {
            return null;
        }
        http.Response.Cookies.Delete(cookie, new CookieOptions { Path = path, Secure = http.Request.IsHttps, SameSite = SameSiteMode.Strict });
        try
        {
            return System.Text.Json.JsonSerializer.Deserialize<T>(Protector(http, cookie).Unprotect(sealedValue));
        }
        catch (System.Security.Cryptography.CryptographicException)
        {
            return null;
        }
    }

    private const string SecretCookie = "broker.console.secret";

    private sealed record OnceShown(string Title, string Message, string Secret, string Back, string Session);

    /// <summary>The console session this request belongs to (<see cref="People.ConsoleSessionStore.SessionClaim"/>).</summary>
    private static string SessionOf(HttpContext http) => http.User.FindFirst(People.ConsoleSessionStore.SessionClaim)?.Value ?? "";

    /// <summary>One purpose per cookie: what one page sealed no other page can open.</summary>
    private static ITimeLimitedDataProtector Protector(HttpContext http, string cookie) =>
        http.RequestServices.GetRequiredService<IDataProtectionProvider>().CreateProtector($"Broker.Console.Once.{cookie}").ToTimeLimitedDataProtector();
}
