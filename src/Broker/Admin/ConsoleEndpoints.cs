using System.ComponentModel.DataAnnotations;
using Broker.Accounts;
using Broker.Admin.Pages;
using Broker.Connect;
using Broker.Data;
using Broker.Hosting;
using Broker.People;
using Broker.Tenants;
using Broker.Tesla;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using static Broker.Admin.ConsolePages;

namespace Broker.Admin;

/// <summary>
/// The console: server-rendered pages and form posts (antiforgery on every one) over the same services as the HTTP API.
/// Who sees which tenant is decided by <see cref="TenantAccess"/> alone: a tenant one may not see is a 404, an act one's
/// role does not allow is a 403. This file holds the way in (sign-in, the tenants list); each page owns its routes:
/// <see cref="ConsoleTenantPages"/>, <see cref="ConsoleAccountPages"/>, <see cref="ConsoleOperatorPages"/>.
/// </summary>
public static class ConsoleEndpoints
{
    public const string SignInRateLimit = "console-sign-in";

    public static RouteGroupBuilder MapConsole(this IEndpointRouteBuilder routes)
    {
        // Every state-changing console request carries the page's form token, fields or not (sign-out, revoke, remove…).
        var root = routes.MapGroup("/console").ExcludeFromDescription().RequireAntiforgeryOnEveryPost();
        var open = root.MapGroup("");
        open.MapGet("/signin", SignInPage).AllowAnonymous();
        open.MapGet("/signin/start", StartSignInAsync).RequireRateLimiting(SignInRateLimit);
        open.MapGet("/signed-out", () => Page<MessagePage>(new { Title = "Signed out", Message = "You are signed out of the Broker console.", LinkUrl = "/console/signin", LinkText = "Sign in again" }));
        open.MapGet("/denied", () => Page<MessagePage>(new { Title = "Not allowed", Message = "Your account may not do this.", Tone = "error", LinkUrl = "/console", LinkText = "Your tenants" }, 403));

        var console = root.MapGroup("").RequireAuthorization(ConsoleAuthentication.ConsolePolicy);
        console.MapPost("/signout", () => TypedResults.SignOut(new AuthenticationProperties { RedirectUri = "/console/signed-out" },
            [ConsoleAuthentication.CookieScheme, ConsoleAuthentication.OidcScheme]));
        console.MapGet("/", HomeAsync);
        console.MapPost("/tenants", CreateTenantAsync).DisableValidation();   // validated in the handler, to show the form again
        console.MapGet("/secret", ShowSecret);
        var tenant = console.MapGroup("/tenants/{slug}");
        ConsoleTenantPages.Map(tenant);
        ConsoleAccountPages.Map(tenant);
        ConsoleVehicleCommands.Map(tenant);
        ConsoleOperatorPages.Map(console);
        return console;
    }

    /// <summary>
    /// The provider may refuse the pushed authorization request (a redirect_uri built from a forged Host, a
    /// misconfigured client): that is a failed sign-in for the person, never a server error.
    /// </summary>
    private static async Task StartSignInAsync(string? returnUrl, HttpContext http, ILogger<ConsoleSignIn> logger)
    {
        try
        {
            await http.ChallengeAsync(ConsoleAuthentication.OidcScheme, new AuthenticationProperties { RedirectUri = LocalOnly(returnUrl) });
        }
        catch (Microsoft.IdentityModel.Protocols.OpenIdConnect.OpenIdConnectProtocolException ex)
        {
            logger.LogWarning("Console sign-in could not start: {Error}", ex.Message);
            http.Response.Redirect("/console/signin?failed=1");
        }
    }

    private static IResult SignInPage(string? returnUrl, string? failed, IOptions<ConsoleOptions> options) => options.Value.Oidc.IsConfigured
        ? Page<MessagePage>(new
        {
            Title = "Sign in",
            Message = failed is not null
                ? "Sign-in did not complete: it was cancelled, or the identity provider refused it. Nothing changed; try again."
                : "Sign in with your organisation's account.",
            Tone = failed is not null ? "error" : "",
            LinkUrl = $"/console/signin/start?returnUrl={Uri.EscapeDataString(LocalOnly(returnUrl))}",
            LinkText = "Sign in",
        })
        : Page<MessagePage>(new { Title = "Sign in", Tone = "warn", Message = "Console sign-in is not configured: set Console:Oidc:Authority, ClientId and ClientSecret (docs/console.md)." }, 503);

    private static async Task<IResult> HomeAsync(HttpContext http, TenantAccess access, BrokerDbContext db, IOptions<TeslaOptions> tesla) =>
        Page<HomePage>(new { Frame = Frame(http), Tenants = await TenantRowsAsync(http, access, db, tesla.Value) });

    /// <summary>
    /// Each tenant with its accounts and those needing attention, by the API's own definition (<see cref="AccountsEndpoints.Attention"/>),
    /// so the list, the tenant page and the API never disagree.
    /// </summary>
    private static async Task<List<HomePage.TenantRow>> TenantRowsAsync(HttpContext http, TenantAccess access, BrokerDbContext db, TeslaOptions tesla)
    {
        var tenants = await access.VisibleTenantsAsync(http.User, http.RequestAborted);
        var ids = tenants.Select(t => t.Id).ToList();
        var accounts = await db.TeslaAccounts.AsNoTracking().Where(a => ids.Contains(a.TenantId)).Include(a => a.Vehicles).ToListAsync(http.RequestAborted);
        return [.. tenants.Select(t =>
        {
            var own = accounts.Where(a => a.TenantId == t.Id).ToList();
            var requested = ScopeCatalog.RequestedBy(t, tesla);
            return new HomePage.TenantRow(t.Slug, t.Name, own.Count, own.Count(a => a.Attention(requested).Length > 0));
        })];
    }

    private static async Task<IResult> CreateTenantAsync(
        [FromForm, SingleLine, MaxLength(64)] string? slug, [FromForm, SingleLine, MaxLength(200)] string? name, HttpContext http, TenantAccess access,
        TenantProvisioning provisioning, BrokerDbContext db, IOptions<TeslaOptions> tesla)
    {
        if (!http.User.IsOperator())
        {
            return Message(http, "Not allowed", "Only operators create tenants.", 403, back: "/console");
        }
        // The rules declared above (the API's, CreateTenantRequest), checked here rather than by the framework's validation (off for
        // this endpoint) so that a refusal names the field and keeps what was typed.
        slug ??= "";
        name ??= "";
        var problem = string.IsNullOrWhiteSpace(name) ? "Give the tenant a name: people see it on the connect page."
            : name.Length > 200 ? $"The name is {name.Length} characters long; 200 at most."
            : TextInput.HasControl(name) ? "The name holds a control or invisible formatting character (a tab, a line break, a direction override): type it again without."
            : slug.Length > 64 ? $"The slug is {slug.Length} characters long; 64 at most."
            : TenantProvisioning.SlugProblem(slug = slug.Trim(' ').ToLowerInvariant())
            ?? (await provisioning.CreateTenantAsync(slug, name, http.RequestAborted) is { } tenant ? null : $"A tenant with slug '{slug}' exists: choose another.");
        // A refused form comes back with what was typed and the reason beside it, on the same page.
        return problem is null
            ? TypedResults.LocalRedirect($"/console/tenants/{slug}")
            : Page<HomePage>(new { Frame = Frame(http), Tenants = await TenantRowsAsync(http, access, db, tesla.Value), Error = problem, Name = name, Slug = slug }, 400);
    }

    /// <summary>
    /// A path on this site by the framework's rule, else the console. The rule refuses control characters, which is what
    /// matters: browsers drop tabs and line breaks, so "/\t/evil.example" arrives as "//evil.example", another site. Only
    /// printable ASCII: a Location header cannot carry anything else (a non-ASCII return URL once failed the sign-in with a 500),
    /// and nothing in the console needs it.
    /// </summary>
    internal static string LocalOnly(string? returnUrl) =>
        returnUrl is ['/', _, ..] && RedirectHttpResult.IsLocalUrl(returnUrl) && returnUrl.All(c => c is >= ' ' and <= '~') ? returnUrl : "/console";
}
