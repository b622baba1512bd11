using Broker.Accounts;
using Broker.Admin.Pages;
using Broker.Connect;
using Broker.Data;
using Broker.Hosting;
using Broker.People;
using Broker.Tenants;
using Broker.Tesla;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Broker.Admin;

/// <summary>
/// The console: server-rendered pages and form posts (antiforgery on every one) over the same
/// services as the HTTP API. Who sees which tenant is decided by <see cref="TenantAccess"/> alone:
/// a tenant one may not see is a 404, an act one's role does not allow is a 403.
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
        open.MapGet("/denied", () => Page<MessagePage>(new { Title = "Not allowed", Message = "Your account may not do this.", Tone = "error" }, 403));

        var console = root.MapGroup("").RequireAuthorization(ConsoleAuthentication.ConsolePolicy);
        console.MapPost("/signout", () => TypedResults.SignOut(new AuthenticationProperties { RedirectUri = "/console/signed-out" },
            [ConsoleAuthentication.CookieScheme, ConsoleAuthentication.OidcScheme]));
        console.MapGet("/", HomeAsync);
        console.MapPost("/tenants", CreateTenantAsync);
        var tenant = console.MapGroup("/tenants/{slug}");
        tenant.MapGet("/", TenantAsync);
        tenant.MapGet("/accounts/{id:guid}", AccountAsync);
        tenant.MapPost("/accounts/{id:guid}/revoke", RevokeAsync);
        tenant.MapPost("/accounts/{id:guid}/reconnect-link", ReconnectLinkAsync);
        tenant.MapPost("/connect-links", CreateConnectLinkAsync);
        tenant.MapPost("/connect-links/{id:guid}/revoke", RevokeConnectLinkAsync);
        tenant.MapPost("/members", InviteAsync);
        tenant.MapPost("/members/{id:guid}/remove", RemoveMemberAsync);
        tenant.MapPost("/api-keys", CreateApiKeyAsync);
        tenant.MapPost("/api-keys/{id:guid}/revoke", RevokeApiKeyAsync);
        console.MapGet("/audit", AuditAsync);
        console.MapGet("/operator", OperatorAsync);
        console.MapPost("/operator/keys", CreateOperatorKeyAsync);
        console.MapPost("/operator/keys/{id:guid}/revoke", RevokeOperatorKeyAsync);
        console.MapPost("/operator/partner/key", PartnerKeyAsync);
        console.MapPost("/operator/partner/registrations", PartnerRegisterAsync);
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
            Message = failed is not null ? "Sign-in did not complete. Try again." : "Sign in with your organisation's account.",
            Tone = failed is not null ? "error" : "",
            LinkUrl = $"/console/signin/start?returnUrl={Uri.EscapeDataString(LocalOnly(returnUrl))}",
            LinkText = "Sign in",
        })
        : Page<MessagePage>(new { Title = "Sign in", Tone = "warn", Message = "Console sign-in is not configured: set Console:Oidc:Authority, ClientId and ClientSecret (see README, \"Console sign-in\")." }, 503);

    private static async Task<IResult> HomeAsync(HttpContext http, TenantAccess access, BrokerDbContext db, IAntiforgery af)
    {
        var tenants = await access.VisibleTenantsAsync(http.User, http.RequestAborted);
        var ids = tenants.Select(t => t.Id).ToList();
        var counts = await db.TeslaAccounts.Where(a => ids.Contains(a.TenantId)).GroupBy(a => a.TenantId)
            .Select(g => new { g.Key, All = g.Count(), Bad = g.Count(a => a.Status != AccountStatus.Active) })
            .ToDictionaryAsync(x => x.Key, http.RequestAborted);
        var rows = tenants.Select(t => new HomePage.TenantRow(t.Slug, t.Name, counts.GetValueOrDefault(t.Id)?.All ?? 0, counts.GetValueOrDefault(t.Id)?.Bad ?? 0)).ToList();
        return Page<HomePage>(new { Frame = Frame(http, af), Tenants = rows });
    }

    private static async Task<IResult> CreateTenantAsync([FromForm, SingleLine] string slug, [FromForm, SingleLine] string name, HttpContext http, TenantProvisioning provisioning)
    {
        if (!http.User.IsOperator())
        {
            return Page<MessagePage>(new { Title = "Not allowed", Message = "Only operators create tenants.", Tone = "error" }, 403);
        }
        slug = slug.Trim().ToLowerInvariant();
        if (TenantProvisioning.SlugProblem(slug) is { } problem)
        {
            return Page<MessagePage>(new { Title = "Tenant not created", Message = problem, Tone = "error", LinkUrl = "/console", LinkText = "Back" }, 400);
        }
        var tenant = await provisioning.CreateTenantAsync(slug, name, http.RequestAborted);
        return tenant is null
            ? Page<MessagePage>(new { Title = "Tenant not created", Message = $"A tenant with slug '{slug}' exists.", Tone = "error", LinkUrl = "/console", LinkText = "Back" }, 409)
            : TypedResults.LocalRedirect($"/console/tenants/{tenant.Slug}");
    }

    private static async Task<IResult> TenantAsync(string slug, HttpContext http, TenantAccess access, BrokerDbContext db, IAntiforgery af, IOptions<TeslaOptions> tesla)
    {
        if (await ResolveAsync(http, access, slug, TenantRole.Member) is not { } r)
        {
            return Denied(http);
        }
        var (tenant, role, ct) = (r.Tenant!, r.Role!.Value, http.RequestAborted);
        var accounts = await db.TeslaAccounts.AsNoTracking().Where(a => a.TenantId == tenant.Id).Include(a => a.Vehicles).Include(a => a.EnergySites)
            .OrderBy(a => a.ConnectedAt).ToListAsync(ct);
        var links = await db.ConnectLinks.AsNoTracking().Where(l => l.TenantId == tenant.Id && l.RevokedAt == null).OrderBy(l => l.CreatedAt)
            .Select(l => new ConnectLinkResponse(l.Id, l.Label, l.CreatedAt, l.RevokedAt, l.LastUsedAt, null, l.AccountId, l.ExpiresAt, l.Region)).ToListAsync(ct);
        var members = await (from m in db.Memberships.AsNoTracking()
                             where m.TenantId == tenant.Id
                             orderby m.Email
                             select new MemberResponse(m.Id, m.Email, m.Role.Name(), m.PersonId != null, null, m.CreatedAt, m.CreatedBy)).ToListAsync(ct);
        var admin = role == TenantRole.Admin;
        var keys = admin ? await db.TenantApiKeys.AsNoTracking().Where(k => k.TenantId == tenant.Id).OrderBy(k => k.CreatedAt)
            .Select(k => new ApiKeyResponse(k.Id, k.Prefix, k.Label, k.Scope.Name(), k.CreatedAt, k.RevokedAt, null)).ToListAsync(ct) : [];
        var audit = admin ? await AuditEndpoints.Page(db.AuditEvents.Where(e => e.TenantId == tenant.Id), null).Take(50).ToListAsync(ct) : [];
        return Page<TenantPage>(new
        {
            Frame = Frame(http, af), Tenant = tenant, Role = role, Links = links, Members = members, ApiKeys = keys, Audit = audit,
            Accounts = accounts.Select(a => a.ToResponse(ScopeCatalog.RequestedBy(tenant, tesla.Value))).ToList(),
            LinkRegions = tesla.Value.Realms.Count(r => r.IsConfigured) > 1
                ? tesla.Value.Regions.Keys.Where(k => tesla.Value.RealmOfRegion(k).IsConfigured).Select(k => k.ToLowerInvariant()).Order(StringComparer.Ordinal).ToList()
                : [],
        });
    }

    private static async Task<IResult> AccountAsync(
        string slug, Guid id, HttpContext http, TenantAccess access, BrokerDbContext db, IAntiforgery af, IOptions<TeslaOptions> tesla,
        IOptions<ConsoleOptions> console, string? reconnect = null)
    {
        if (await ResolveAsync(http, access, slug, TenantRole.Member) is not { } r)
        {
            return Denied(http);
        }
        var account = await db.TeslaAccounts.AsNoTracking().Include(a => a.Vehicles).Include(a => a.EnergySites)
            .SingleOrDefaultAsync(a => a.Id == id && a.TenantId == r.Tenant!.Id, http.RequestAborted);
        if (account is null)
        {
            return NotFoundPage(http, af);
        }
        return Page<AccountPage>(new
        {
            Frame = Frame(http, af), TenantSlug = r.Tenant!.Slug, TenantName = r.Tenant.Name, Account = account.ToResponse(ScopeCatalog.RequestedBy(r.Tenant, tesla.Value)),
            ConsentRevocationUrl = tesla.Value.RealmOfRegion(account.Region).ConsentRevocationUrl(), CanRevoke = r.Role == TenantRole.Admin,
            PairingUrl = http.RequestServices.GetRequiredService<IOptions<Partner.PartnerOptions>>().Value.PairingUrl(),
            ReconnectUrl = reconnect, ReconnectDays = console.Value.ReconnectLinkDays,
        });
    }

    private static async Task<IResult> RevokeAsync(string slug, Guid id, HttpContext http, TenantAccess access, AccountLifecycle lifecycle)
    {
        if (await ResolveAsync(http, access, slug, TenantRole.Admin) is not { } r)
        {
            return Denied(http);
        }
        return await lifecycle.RevokeAsync(r.Tenant!.Id, id, http.RequestAborted) == RevokeOutcome.NotFound
            ? TypedResults.NotFound()
            : TypedResults.LocalRedirect($"/console/tenants/{slug}/accounts/{id}");
    }

    private static async Task<IResult> ReconnectLinkAsync(
        string slug, Guid id, HttpContext http, TenantAccess access, AccountLifecycle lifecycle, BrokerDbContext db, IAntiforgery af,
        IOptions<TeslaOptions> tesla, IOptions<ConsoleOptions> console)
    {
        if (await ResolveAsync(http, access, slug, TenantRole.Member) is not { } r)
        {
            return Denied(http);
        }
        if (await lifecycle.CreateReconnectLinkAsync(r.Tenant!.Id, id, http.RequestAborted) is not var (_, token))
        {
            return NotFoundPage(http, af);
        }
        http.Response.Headers.CacheControl = "no-store";
        return await AccountAsync(slug, id, http, access, db, af, tesla, console, ConnectLinksEndpoints.UrlFor(http.Request, token));
    }

    private static async Task<IResult> CreateConnectLinkAsync(string slug, [FromForm, SingleLine] string? label, [FromForm, SingleLine] string? region,
        HttpContext http, TenantAccess access, TenantProvisioning provisioning, AuditLog audit, IAntiforgery af, IOptions<TeslaOptions> tesla)
    {
        if (await ResolveAsync(http, access, slug, TenantRole.Member) is not { } r)
        {
            return Denied(http);
        }
        if (ConnectLinksEndpoints.RegionProblem(region, tesla.Value) is { } problem)
        {
            return Page<MessagePage>(new { Frame = Frame(http, af), Title = "No connect link", Tone = "warn", Message = problem }, 400);
        }
        label = string.IsNullOrWhiteSpace(label) ? null : label.Trim();
        region = string.IsNullOrEmpty(region) ? null : region.ToLowerInvariant();
        var detail = string.Join("; ", new[] { label is null ? null : $"label={label}", region is null ? null : $"region={region}" }.OfType<string>());
        var actor = audit.Add("connect_link.created", r.Tenant!.Id, detail: detail.Length == 0 ? null : detail).Actor;
        var (_, token) = await provisioning.AddConnectLinkAsync(r.Tenant.Id, label, http.RequestAborted, createdBy: actor, region: region);
        return Secret(http, af, "New connect link", $"Send this link to the person who will connect their Tesla account to {r.Tenant.Name}.",
            ConnectLinksEndpoints.UrlFor(http.Request, token), $"/console/tenants/{slug}");
    }

    private static async Task<IResult> RevokeConnectLinkAsync(string slug, Guid id, HttpContext http, TenantAccess access, BrokerDbContext db, AuditLog audit, TimeProvider time)
    {
        if (await ResolveAsync(http, access, slug, TenantRole.Member) is not { } r)
        {
            return Denied(http);
        }
        var now = time.GetUtcNow();
        if (await db.ConnectLinks.Where(l => l.Id == id && l.TenantId == r.Tenant!.Id && l.RevokedAt == null)
                .ExecuteUpdateAsync(s => s.SetProperty(l => l.RevokedAt, now), http.RequestAborted) > 0)
        {
            audit.Add("connect_link.revoked", r.Tenant!.Id, detail: $"link={id}");
            await db.SaveChangesAsync(http.RequestAborted);
        }
        return TypedResults.LocalRedirect($"/console/tenants/{slug}");
    }

    private static async Task<IResult> InviteAsync(
        string slug, [FromForm, SingleLine] string email, [FromForm, SingleLine] string? role, HttpContext http, TenantAccess access, TenantProvisioning provisioning)
    {
        if (await ResolveAsync(http, access, slug, TenantRole.Admin) is not { } r)
        {
            return Denied(http);
        }
        if (!new System.ComponentModel.DataAnnotations.EmailAddressAttribute().IsValid(email))
        {
            return Page<MessagePage>(new { Title = "Not invited", Message = "That is not an email address.", Tone = "error", LinkUrl = $"/console/tenants/{slug}", LinkText = "Back" }, 400);
        }
        if (!TenantRoles.TryParse(role ?? "member", out var tenantRole))
        {
            return Page<MessagePage>(new { Title = "Not invited", Message = "A role is member or admin.", Tone = "error", LinkUrl = $"/console/tenants/{slug}", LinkText = "Back" }, 400);
        }
        await provisioning.InviteMemberAsync(r.Tenant!.Id, email, tenantRole, http.RequestAborted);
        return TypedResults.LocalRedirect($"/console/tenants/{slug}");
    }

    private static async Task<IResult> RemoveMemberAsync(string slug, Guid id, HttpContext http, TenantAccess access, TenantProvisioning provisioning)
    {
        if (await ResolveAsync(http, access, slug, TenantRole.Admin) is not { } r)
        {
            return Denied(http);
        }
        await provisioning.RemoveMemberAsync(r.Tenant!.Id, id, http.RequestAborted);
        return TypedResults.LocalRedirect($"/console/tenants/{slug}");
    }

    private static async Task<IResult> CreateApiKeyAsync(
        string slug, [FromForm, SingleLine] string? label, [FromForm, SingleLine] string? scope, HttpContext http, TenantAccess access, TenantProvisioning provisioning, IAntiforgery af)
    {
        if (await ResolveAsync(http, access, slug, TenantRole.Admin) is not { } r)
        {
            return Denied(http);
        }
        if (!KeyScopes.TryParse(scope ?? "admin", out TenantKeyScope keyScope))
        {
            return Page<MessagePage>(new { Title = "No key made", Message = "A key's scope is admin, member or metrics.", Tone = "error", LinkUrl = $"/console/tenants/{slug}", LinkText = "Back" }, 400);
        }
        var key = await provisioning.CreateApiKeyAsync(r.Tenant!.Id, string.IsNullOrWhiteSpace(label) ? null : label.Trim(), keyScope, http.RequestAborted);
        return Secret(http, af, "New API key", keyScope == TenantKeyScope.Metrics
            ? $"A bearer key that reads {r.Tenant.Name}'s /metrics and nothing else."
            : $"A bearer key for {r.Tenant.Name}'s API (as a tenant {keyScope.Name()}) and /metrics.", key, $"/console/tenants/{slug}");
    }

    private static async Task<IResult> RevokeApiKeyAsync(string slug, Guid id, HttpContext http, TenantAccess access, TenantProvisioning provisioning)
    {
        if (await ResolveAsync(http, access, slug, TenantRole.Admin) is not { } r)
        {
            return Denied(http);
        }
        await provisioning.RevokeApiKeyAsync(r.Tenant!.Id, id, http.RequestAborted);
        return TypedResults.LocalRedirect($"/console/tenants/{slug}");
    }

    private static async Task<IResult> AuditAsync(long? before, HttpContext http, BrokerDbContext db, IAntiforgery af) => !http.User.IsOperator()
        ? Page<MessagePage>(new { Title = "Not allowed", Message = "The full audit log is for operators. Tenant admins find their tenant's log on the tenant page.", Tone = "error", Frame = Frame(http, af) }, 403)
        : Page<AuditPage>(new { Frame = Frame(http, af), Events = await AuditEndpoints.Page(db.AuditEvents, before).ToListAsync(http.RequestAborted) });

    private static async Task<IResult> OperatorAsync(HttpContext http, BrokerDbContext db, IAntiforgery af, Partner.PartnerSetup partner, string? notice = null)
    {
        if (!http.User.IsOperator())
        {
            return Page<MessagePage>(new { Title = "Not allowed", Message = "This page is for operators.", Tone = "error", Frame = Frame(http, af) }, 403);
        }
        var keys = await db.OperatorApiKeys.AsNoTracking().OrderBy(k => k.CreatedAt)
            .Select(k => new OperatorKeyResponse(k.Id, k.DisplayPrefix, k.Label, k.Scope.Name(), k.CreatedBy, k.CreatedAt, k.RevokedAt, null)).ToListAsync(http.RequestAborted);
        return Page<OperatorPage>(new { Frame = Frame(http, af) with { Notice = notice }, Keys = keys, Partner = await partner.GetStatusAsync(http.RequestAborted) });
    }

    private static async Task<IResult> PartnerKeyAsync([FromForm, MultiLine] string? privateKeyPem, HttpContext http, BrokerDbContext db, IAntiforgery af, Partner.PartnerSetup partner) =>
        await PartnerActAsync(http, db, af, partner, async () => privateKeyPem is { Length: > 0 } pem
            ? $"Imported key {(await partner.ImportKeyAsync(pem, http.RequestAborted)).PublicKeyHex[..18]}…"
            : $"Generated key {(await partner.GenerateKeyAsync(http.RequestAborted)).PublicKeyHex[..18]}…");

    private static async Task<IResult> PartnerRegisterAsync([FromForm, SingleLine] string? region, HttpContext http, BrokerDbContext db, IAntiforgery af, Partner.PartnerSetup partner) =>
        await PartnerActAsync(http, db, af, partner, async () =>
        {
            var rows = await partner.RegisterAsync(string.IsNullOrEmpty(region) ? null : region, http.RequestAborted);
            return string.Join("; ", rows.Select(r => $"{r.Region.ToUpperInvariant()}: {r.Status}{(r.Error is null ? "" : $" ({r.Error})")}"));
        });

    private static async Task<IResult> PartnerActAsync(HttpContext http, BrokerDbContext db, IAntiforgery af, Partner.PartnerSetup partner, Func<Task<string>> act)
    {
        if (!http.User.IsOperator())
        {
            return Page<MessagePage>(new { Title = "Not allowed", Message = "This is for operators.", Tone = "error" }, 403);
        }
        try
        {
            return await OperatorAsync(http, db, af, partner, await act());
        }
        catch (Partner.PartnerSetupException ex)
        {
            return Page<MessagePage>(new { Title = ex.Title, Message = ex.Message, Tone = "error", Frame = Frame(http, af), LinkUrl = "/console/operator", LinkText = "Back" }, ex.Status);
        }
    }

    private static async Task<IResult> CreateOperatorKeyAsync(
        [FromForm, SingleLine] string? label, [FromForm, SingleLine] string? scope, HttpContext http, OperatorKeys keys, IAntiforgery af)
    {
        if (!http.User.IsOperator())
        {
            return Page<MessagePage>(new { Title = "Not allowed", Message = "This is for operators.", Tone = "error" }, 403);
        }
        if (!KeyScopes.TryParse(scope ?? "operator", out OperatorKeyScope keyScope))
        {
            return Page<MessagePage>(new { Title = "No key made", Message = "A key's scope is operator or metrics.", Tone = "error", LinkUrl = "/console/operator", LinkText = "Back" }, 400);
        }
        var (_, key) = await keys.CreateAsync(string.IsNullOrWhiteSpace(label) ? null : label.Trim(), keyScope, http.RequestAborted);
        return Secret(http, af, "New operator key", keyScope == OperatorKeyScope.Metrics
            ? "A bearer key that reads every tenant's /metrics and nothing else: give it to Prometheus."
            : "A bearer key for the operator API: it can act on every tenant.", key, "/console/operator");
    }

    private static async Task<IResult> RevokeOperatorKeyAsync(Guid id, HttpContext http, OperatorKeys keys)
    {
        if (!http.User.IsOperator())
        {
            return Page<MessagePage>(new { Title = "Not allowed", Message = "This is for operators.", Tone = "error" }, 403);
        }
        await keys.RevokeAsync(id, http.RequestAborted);
        return TypedResults.LocalRedirect("/console/operator");
    }

    /// <summary>The tenant when allowed; otherwise null, with the refusal stashed for <see cref="Denied"/>.</summary>
    private static async Task<TenantAccessResult?> ResolveAsync(HttpContext http, TenantAccess access, string slug, TenantRole needed)
    {
        var result = await access.ResolveAsync(http.User, slug, needed, http.RequestAborted);
        http.Items[typeof(TenantAccessResult)] = result;
        return result.Outcome == AccessOutcome.Allowed ? result : null;
    }

    private static IResult Denied(HttpContext http) =>
        (http.Items[typeof(TenantAccessResult)] as TenantAccessResult)?.Outcome == AccessOutcome.Forbidden
            ? Page<MessagePage>(new { Title = "Not allowed", Message = "Your role in this tenant does not allow this. Ask a tenant admin.", Tone = "error" }, 403)
            : Page<MessagePage>(new { Title = "Not found", Message = "There is no such tenant, or you are not a member of it.", Tone = "error", LinkUrl = "/console", LinkText = "Your tenants" }, 404);

    private static IResult NotFoundPage(HttpContext http, IAntiforgery af) =>
        Page<MessagePage>(new { Title = "Not found", Message = "There is no such account in this tenant.", Tone = "error", Frame = Frame(http, af) }, 404);

    private static IResult Secret(HttpContext http, IAntiforgery af, string title, string message, string secret, string back)
    {
        http.Response.Headers.CacheControl = "no-store";
        return Page<MessagePage>(new { Title = title, Message = message, Secret = secret, Tone = "ok", Frame = Frame(http, af), LinkUrl = back, LinkText = "Done" });
    }

    private static ConsoleFrame Frame(HttpContext http, IAntiforgery af)
    {
        var tokens = af.GetAndStoreTokens(http);
        return new ConsoleFrame(http.User.FindFirst("email")?.Value ?? http.User.Identity?.Name ?? "signed in", http.User.IsOperator(),
            tokens.FormFieldName, tokens.RequestToken);
    }

    private static RazorComponentResult<TPage> Page<TPage>(object parameters, int status = 200) where TPage : Microsoft.AspNetCore.Components.IComponent =>
        new(parameters) { StatusCode = status };

    /// <summary>
    /// A path on this site by the framework's rule, else the console. The rule refuses control characters, which is what
    /// matters: browsers drop tabs and line breaks, so "/\t/evil.example" arrives as "//evil.example", another site.
    /// </summary>
    internal static string LocalOnly(string? returnUrl) =>
        returnUrl is ['/', _, ..] && RedirectHttpResult.IsLocalUrl(returnUrl) ? returnUrl : "/console";
}
