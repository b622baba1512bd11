using System.ComponentModel.DataAnnotations;
using Broker.Accounts;
using Broker.Admin.Pages;
using Broker.Connect;
using Broker.Data;
using Broker.Hosting;
using Broker.People;
using Broker.Tenants;
using Broker.Tesla;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using static Broker.Admin.ConsolePages;

namespace Broker.Admin;

/// <summary>
/// <c>/console/tenants/{slug}</c>: the tenant's accounts, connect links, members, API keys and audit log, and the form posts
/// that change them. What cannot be undone (revoking, removing) asks first on a page of its own.
/// </summary>
internal static class ConsoleTenantPages
{
    public static void Map(RouteGroupBuilder tenant)
    {
        tenant.MapGet("/", TenantAsync);
        tenant.MapPost("/budget", SetBudgetAsync);
        tenant.MapPost("/connect-links", CreateConnectLinkAsync);
        tenant.MapGet("/connect-links/{id:guid}/revoke", ConfirmRevokeLinkAsync);
        tenant.MapPost("/connect-links/{id:guid}/revoke", RevokeConnectLinkAsync);
        tenant.MapPost("/members", InviteAsync);
        tenant.MapGet("/members/{id:guid}/remove", ConfirmRemoveMemberAsync);
        tenant.MapPost("/members/{id:guid}/remove", RemoveMemberAsync);
        tenant.MapPost("/members/{id:guid}/role", ChangeRoleAsync);
        tenant.MapPost("/api-keys", CreateApiKeyAsync);
        tenant.MapGet("/api-keys/{id:guid}/revoke", ConfirmRevokeApiKeyAsync);
        tenant.MapPost("/api-keys/{id:guid}/revoke", RevokeApiKeyAsync);
    }

    private static async Task<IResult> TenantAsync(string slug, HttpContext http, TenantAccess access, BrokerDbContext db, IOptions<TeslaOptions> tesla)
    {
        if (await ResolveAsync(http, access, slug, TenantRole.Member) is not { } r)
        {
            return Denied(http);
        }
        var (tenant, role, ct) = (r.Tenant!, r.Role!.Value, http.RequestAborted);
        var accounts = await db.TeslaAccounts.AsNoTracking().Where(a => a.TenantId == tenant.Id).Include(a => a.Vehicles).Include(a => a.EnergySites)
            .OrderBy(a => a.Id).ToListAsync(ct);   // as the API lists them
        var links = await db.ConnectLinks.AsNoTracking().Where(l => l.TenantId == tenant.Id && l.RevokedAt == null).OrderBy(l => l.CreatedAt)
            .Select(l => new ConnectLinkResponse(l.Id, l.Label, l.CreatedAt, l.RevokedAt, l.LastUsedAt, null, l.AccountId, l.ExpiresAt, l.Region)).ToListAsync(ct);
        var members = await db.Memberships.AsNoTracking().Where(m => m.TenantId == tenant.Id).OrderBy(m => m.Email)
            .Select(m => new MemberResponse(m.Id, m.Email, m.Role.Name(), m.PersonId != null, null, m.CreatedAt, m.CreatedBy)).ToListAsync(ct);
        var admin = role == TenantRole.Admin;
        var keys = admin ? await db.TenantApiKeys.AsNoTracking().Where(k => k.TenantId == tenant.Id).OrderBy(k => k.CreatedAt)
            .Select(k => new ApiKeyResponse(k.Id, k.Prefix, k.Label, k.Scope.Name(), k.CreatedAt, k.RevokedAt, null)).ToListAsync(ct) : [];
        var audit = admin ? await AuditEndpoints.Page(db.AuditEvents.Where(e => e.TenantId == tenant.Id), null).Take(50).ToListAsync(ct) : [];
        return Page<TenantPage>(new
        {
            Frame = Frame(http), Tenant = tenant, Role = role, Links = links, Members = members, ApiKeys = keys, Audit = audit,
            LinkLabels = await AuditLabels.LinksAsync(db, audit, ct),
            Accounts = accounts.Select(a => a.ToResponse(ScopeCatalog.RequestedBy(tenant, tesla.Value))).ToList(),
            LinkRegions = tesla.Value.Realms.Count(x => x.IsConfigured) > 1
                ? tesla.Value.Regions.Keys.Where(k => tesla.Value.RealmOfRegion(k).IsConfigured).Select(k => k.ToLowerInvariant()).Order(StringComparer.Ordinal).ToList()
                : [],
        });
    }

    /// <summary>The monthly Fleet API budget, as <c>PUT /api/v1/policy</c> sets it; an empty field removes the limit.</summary>
    private static async Task<IResult> SetBudgetAsync(
        string slug, [FromForm, SingleLine, MaxLength(12)] string? budget, HttpContext http, TenantAccess access, BrokerDbContext db, AuditLog audit,
        Polling.CostBudget costs)
    {
        if (await ResolveAsync(http, access, slug, TenantRole.Admin) is not { } r)
        {
            return Denied(http);
        }
        if (!http.Request.Form.ContainsKey("budget"))
        {
            // The form always sends the field (empty for no limit): a post without it is not the form, and must not clear the budget.
            return Message(http, "Budget not saved", "The form sent no budget field; nothing was changed.", 400, back: $"/console/tenants/{slug}");
        }
        decimal? usd = null;
        if (!string.IsNullOrWhiteSpace(budget))
        {
            if (!decimal.TryParse(budget.Trim().TrimStart('$'), System.Globalization.NumberStyles.AllowDecimalPoint, System.Globalization.CultureInfo.InvariantCulture, out var value)
                || value < (decimal)TenantPolicy.MinBudgetUsd || value > (decimal)TenantPolicy.MaxBudgetUsd || decimal.Round(value, 2) != value)
            {
                return Message(http, "Budget not saved", $"A budget is an amount in US dollars from {TenantPolicy.MinBudgetUsd.ToString(System.Globalization.CultureInfo.InvariantCulture)} "
                    + $"to {TenantPolicy.MaxBudgetUsd.ToString("#,0", System.Globalization.CultureInfo.InvariantCulture)}, "
                    + "with at most two decimals (e.g. 25 or 7.50); leave the field empty for no limit.", 400, back: $"/console/tenants/{slug}");
            }
            usd = value;
        }
        await TenantPolicy.SetBudgetAsync(db, audit, costs, r.Tenant!.Id, usd, http.RequestAborted);
        return TypedResults.LocalRedirect($"/console/tenants/{slug}");
    }

    private static async Task<IResult> CreateConnectLinkAsync(
        string slug, [FromForm, SingleLine, MaxLength(200)] string? label, [FromForm, SingleLine, MaxLength(8)] string? region,
        HttpContext http, TenantAccess access, TenantProvisioning provisioning, AuditLog audit, IOptions<TeslaOptions> tesla)
    {
        if (await ResolveAsync(http, access, slug, TenantRole.Member) is not { } r)
        {
            return Denied(http);
        }
        if (ConnectLinksEndpoints.RegionProblem(region, tesla.Value) is { } problem)
        {
            return Message(http, "No connect link", problem, 400, tone: "warn", back: $"/console/tenants/{slug}");
        }
        label = string.IsNullOrWhiteSpace(label) ? null : label.Trim();
        region = string.IsNullOrEmpty(region) ? null : region.ToLowerInvariant();
        var detail = string.Join("; ", new[] { label is null ? null : $"label={label}", region is null ? null : $"region={region}" }.OfType<string>());
        var actor = audit.Add("connect_link.created", r.Tenant!.Id, detail: detail.Length == 0 ? null : detail).Actor;
        var (_, token) = await provisioning.AddConnectLinkAsync(r.Tenant.Id, label, http.RequestAborted, createdBy: actor, region: region);
        return ShowOnce(http, "New connect link", $"Send this link to the person who will connect their Tesla account to {r.Tenant.Name}.",
            ConnectLinksEndpoints.UrlFor(http.Request, token), $"/console/tenants/{slug}");
    }

    private static async Task<IResult> ConfirmRevokeLinkAsync(string slug, Guid id, HttpContext http, TenantAccess access, BrokerDbContext db)
    {
        if (await ResolveAsync(http, access, slug, TenantRole.Member) is not { } r)
        {
            return Denied(http);
        }
        return await db.ConnectLinks.AsNoTracking().SingleOrDefaultAsync(l => l.Id == id && l.TenantId == r.Tenant!.Id && l.RevokedAt == null, http.RequestAborted) is { } link
            ? Confirm(http, "Revoke this connect link?", $"The link {(link.Label is { } l ? $"\"{l}\"" : "without a label")} stops working at once, even for someone "
                + "half-way through signing in at Tesla. Accounts already linked through it stay linked.",
                $"/console/tenants/{slug}/connect-links/{id}/revoke", "Revoke the link", $"/console/tenants/{slug}")
            : Message(http, "Not found", "This tenant has no such link, or it is revoked already.", 404, back: $"/console/tenants/{slug}");
    }

    private static async Task<IResult> RevokeConnectLinkAsync(string slug, Guid id, HttpContext http, TenantAccess access, BrokerDbContext db, AuditLog audit, TimeProvider time)
    {
        if (await ResolveAsync(http, access, slug, TenantRole.Member) is not { } r)
        {
            return Denied(http);
        }
        var now = time.GetUtcNow();
        if (await db.ConnectLinks.Where(l => l.Id == id && l.TenantId == r.Tenant!.Id && l.RevokedAt == null)
                .ExecuteUpdateAsync(s => s.SetProperty(l => l.RevokedAt, now), http.RequestAborted) == 0)
        {
            return Message(http, "Not found", "This tenant has no such link, or it is revoked already.", 404, back: $"/console/tenants/{slug}");
        }
        audit.Add("connect_link.revoked", r.Tenant!.Id, detail: $"link={id}");
        await db.SaveChangesAsync(http.RequestAborted);
        return TypedResults.LocalRedirect($"/console/tenants/{slug}");
    }

    private static async Task<IResult> InviteAsync(
        string slug, [FromForm, SingleLine, MaxLength(254)] string email, [FromForm, SingleLine, MaxLength(16)] string? role, HttpContext http,
        TenantAccess access, TenantProvisioning provisioning)
    {
        if (await ResolveAsync(http, access, slug, TenantRole.Admin) is not { } r)
        {
            return Denied(http);
        }
        if (!MemberEmailAttribute.IsValidEmail(email.Trim()))
        {
            return Message(http, "Not invited", "That is not an email address a person can sign in with (name@example.com).", 400, back: $"/console/tenants/{slug}");
        }
        if (!TenantRoles.TryParse(role ?? "member", out var tenantRole))
        {
            return Message(http, "Not invited", "A role is member or admin.", 400, back: $"/console/tenants/{slug}");
        }
        return await MembershipActAsync(http, slug, "Not invited", () => provisioning.InviteMemberAsync(r.Tenant!.Id, email, tenantRole, http.RequestAborted));
    }

    private static async Task<IResult> ConfirmRemoveMemberAsync(string slug, Guid id, HttpContext http, TenantAccess access, BrokerDbContext db)
    {
        if (await ResolveAsync(http, access, slug, TenantRole.Admin) is not { } r)
        {
            return Denied(http);
        }
        var member = await db.Memberships.AsNoTracking().SingleOrDefaultAsync(m => m.Id == id && m.TenantId == r.Tenant!.Id, http.RequestAborted);
        var self = member?.PersonId is { } person && person == http.User.PersonId();
        return member is null
            ? Message(http, "Not found", "This tenant has no such member.", 404, back: $"/console/tenants/{slug}")
            : Confirm(http, self ? "Leave this tenant?" : $"Remove {member.Email}?",
                self ? $"You will no longer see {r.Tenant!.Name}, and you are signed out of the console at once. An admin can invite you again."
                    : $"{member.Email} will no longer see {r.Tenant!.Name}, and is signed out of the console at once. An admin can invite them again.",
                $"/console/tenants/{slug}/members/{id}/remove", self ? "Leave" : "Remove", $"/console/tenants/{slug}");
    }

    private static async Task<IResult> RemoveMemberAsync(string slug, Guid id, HttpContext http, TenantAccess access, TenantProvisioning provisioning)
    {
        if (await ResolveAsync(http, access, slug, TenantRole.Admin) is not { } r)
        {
            return Denied(http);
        }
        return await MembershipActAsync(http, slug, "Not removed", async () =>
        {
            if (!await provisioning.RemoveMemberAsync(r.Tenant!.Id, id, http.RequestAborted))
            {
                throw new MembershipConflictException("This tenant has no such member.");
            }
        });
    }

    private static async Task<IResult> ChangeRoleAsync(
        string slug, Guid id, [FromForm, SingleLine, MaxLength(16)] string? role, HttpContext http, TenantAccess access, TenantProvisioning provisioning)
    {
        if (await ResolveAsync(http, access, slug, TenantRole.Admin) is not { } r)
        {
            return Denied(http);
        }
        if (!TenantRoles.TryParse(role ?? "", out var tenantRole))
        {
            return Message(http, "Role not changed", "A role is member or admin.", 400, back: $"/console/tenants/{slug}");
        }
        return await MembershipActAsync(http, slug, "Role not changed", async () =>
        {
            if (await provisioning.ChangeRoleAsync(r.Tenant!.Id, id, tenantRole, http.RequestAborted) is null)
            {
                throw new MembershipConflictException("This tenant has no such member.");
            }
        });
    }

    /// <summary>A membership change the tenant's rules refuse (already a member, its only admin) is a page that says why.</summary>
    private static async Task<IResult> MembershipActAsync(HttpContext http, string slug, string title, Func<Task> act)
    {
        try
        {
            await act();
            return TypedResults.LocalRedirect($"/console/tenants/{slug}");
        }
        catch (MembershipConflictException ex)
        {
            return Message(http, title, ex.Message, 409, back: $"/console/tenants/{slug}");
        }
    }

    private static async Task<IResult> CreateApiKeyAsync(
        string slug, [FromForm, SingleLine, MaxLength(200)] string? label, [FromForm, SingleLine, MaxLength(16)] string? scope, HttpContext http,
        TenantAccess access, TenantProvisioning provisioning)
    {
        if (await ResolveAsync(http, access, slug, TenantRole.Admin) is not { } r)
        {
            return Denied(http);
        }
        if (!KeyScopes.TryParse(scope ?? "admin", out TenantKeyScope keyScope))
        {
            return Message(http, "No key made", "A key's scope is admin, member or metrics.", 400, back: $"/console/tenants/{slug}");
        }
        var key = await provisioning.CreateApiKeyAsync(r.Tenant!.Id, string.IsNullOrWhiteSpace(label) ? null : label.Trim(), keyScope, http.RequestAborted);
        return ShowOnce(http, "New API key", keyScope == TenantKeyScope.Metrics
            ? $"A bearer key that reads {r.Tenant.Name}'s /metrics and nothing else."
            : $"A bearer key for {r.Tenant.Name}'s API (as a tenant {keyScope.Name()}) and /metrics.", key, $"/console/tenants/{slug}");
    }

    private static async Task<IResult> ConfirmRevokeApiKeyAsync(string slug, Guid id, HttpContext http, TenantAccess access, BrokerDbContext db)
    {
        if (await ResolveAsync(http, access, slug, TenantRole.Admin) is not { } r)
        {
            return Denied(http);
        }
        return await db.TenantApiKeys.AsNoTracking().SingleOrDefaultAsync(k => k.Id == id && k.TenantId == r.Tenant!.Id && k.RevokedAt == null, http.RequestAborted) is { } key
            ? Confirm(http, $"Revoke the key {key.Prefix}…?", $"Whatever uses it{(key.Label is { } l ? $" ({l})" : "")} is refused from its next request on. This cannot be undone.",
                $"/console/tenants/{slug}/api-keys/{id}/revoke", "Revoke the key", $"/console/tenants/{slug}")
            : Message(http, "Not found", "This tenant has no such key, or it is revoked already.", 404, back: $"/console/tenants/{slug}");
    }

    private static async Task<IResult> RevokeApiKeyAsync(string slug, Guid id, HttpContext http, TenantAccess access, TenantProvisioning provisioning)
    {
        if (await ResolveAsync(http, access, slug, TenantRole.Admin) is not { } r)
        {
            return Denied(http);
        }
        return await provisioning.RevokeApiKeyAsync(r.Tenant!.Id, id, http.RequestAborted)
            ? TypedResults.LocalRedirect($"/console/tenants/{slug}")
            : Message(http, "Not found", "This tenant has no such key, or it is revoked already.", 404, back: $"/console/tenants/{slug}");
    }
}
