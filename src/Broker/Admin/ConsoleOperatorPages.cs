using System.ComponentModel.DataAnnotations;
using Broker.Admin.Pages;
using Broker.Data;
using Broker.Hosting;
using Broker.Partner;
using Broker.People;
using Broker.Tenants;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using static Broker.Admin.ConsolePages;

namespace Broker.Admin;

/// <summary>
/// The operator's pages: <c>/console/operator</c> (operator keys, the Fleet API partner key and its registration in each
/// region) and <c>/console/audit</c> (the whole audit log). Every route refuses anyone who is not an operator.
/// </summary>
internal static class ConsoleOperatorPages
{
    public static void Map(RouteGroupBuilder console)
    {
        console.MapGet("/audit", AuditAsync);
        var op = console.MapGroup("/operator").AddEndpointFilter(async (context, next) =>
            context.HttpContext.User.IsOperator() ? await next(context) : Message(context.HttpContext, "Not allowed", "This page is for operators.", 403, back: "/console"));
        op.MapGet("/", OperatorAsync);
        op.MapPost("/keys", CreateOperatorKeyAsync);
        op.MapGet("/keys/{id:guid}/revoke", ConfirmRevokeOperatorKeyAsync);
        op.MapPost("/keys/{id:guid}/revoke", RevokeOperatorKeyAsync);
        op.MapPost("/partner/key", PartnerKeyAsync);
        op.MapPost("/partner/registrations", PartnerRegisterAsync);
    }

    private static async Task<IResult> AuditAsync(long? before, HttpContext http, BrokerDbContext db)
    {
        if (!http.User.IsOperator())
        {
            return Message(http, "Not allowed", "The full audit log is for operators. Tenant admins find their tenant's log on the tenant page.", 403, back: "/console");
        }
        var events = await AuditEndpoints.Page(db.AuditEvents, before).ToListAsync(http.RequestAborted);
        var tenants = events.Where(e => e.TenantId is not null).Select(e => e.TenantId!.Value).Distinct().ToList();
        var slugs = await db.Tenants.AsNoTracking().Where(t => tenants.Contains(t.Id)).ToDictionaryAsync(t => t.Id, t => t.Slug, http.RequestAborted);
        return Page<AuditPage>(new
        {
            Frame = Frame(http), Events = events, LinkLabels = await AuditLabels.LinksAsync(db, events, http.RequestAborted), TenantSlugs = slugs,
        });
    }

    /// <summary>The operator page, with the outcome of the partner act just done (post, redirect, show once: a reload sends nothing again).</summary>
    private static async Task<IResult> OperatorAsync(HttpContext http, BrokerDbContext db, PartnerSetup partner)
    {
        var outcome = TakeOnce<OperatorPage.Outcome>(http, OutcomeCookie, "/console/operator");
        return await OperatorPageAsync(http, db, partner, outcome);
    }

    private const string OutcomeCookie = "broker.console.outcome";

    /// <summary>The operator page, with the outcome of the act just done on top (green when it worked, red when any part failed).</summary>
    private static async Task<IResult> OperatorPageAsync(HttpContext http, BrokerDbContext db, PartnerSetup partner, OperatorPage.Outcome? outcome)
    {
        var keys = await db.OperatorApiKeys.AsNoTracking().OrderBy(k => k.CreatedAt)
            .Select(k => new OperatorKeyResponse(k.Id, k.DisplayPrefix, k.Label, k.Scope.Name(), k.CreatedBy, k.CreatedAt, k.RevokedAt, null)).ToListAsync(http.RequestAborted);
        return Page<OperatorPage>(new { Frame = Frame(http), Keys = keys, Partner = await partner.GetStatusAsync(http.RequestAborted), Result = outcome });
    }

    private static async Task<IResult> PartnerKeyAsync(
        [FromForm, MultiLine, MaxLength(16_384)] string? privateKeyPem, [FromForm] bool? replace, HttpContext http, PartnerSetup partner) =>
        await PartnerActAsync(http, async () => new OperatorPage.Outcome(true, [privateKeyPem is { Length: > 0 } pem
            ? $"Imported key {(await partner.ImportKeyAsync(pem, replace == true, http.RequestAborted)).PublicKeyHex[..18]}…. Register it in every region next."
            : $"Generated key {(await partner.GenerateKeyAsync(replace == true, http.RequestAborted)).PublicKeyHex[..18]}…. Register it in every region next."]));

    private static async Task<IResult> PartnerRegisterAsync([FromForm, SingleLine, MaxLength(8)] string? region, HttpContext http, PartnerSetup partner) =>
        await PartnerActAsync(http, async () =>
        {
            var rows = await partner.RegisterAsync(string.IsNullOrEmpty(region) ? null : region, http.RequestAborted);
            return new OperatorPage.Outcome(rows.All(r => r.Status == "registered"),
                [.. rows.Select(r => $"{r.Region.ToUpperInvariant()}: {(r.Status == "registered" ? "registered" : $"failed. {r.Error}")}")]);
        });

    private static async Task<IResult> PartnerActAsync(HttpContext http, Func<Task<OperatorPage.Outcome>> act)
    {
        OperatorPage.Outcome outcome;
        try
        {
            outcome = await act();   // as the API: the act ran; each region says how it went
        }
        catch (PartnerSetupException ex)
        {
            outcome = new OperatorPage.Outcome(false, [$"{ex.Title}: {ex.Message}"]);
        }
        SealOnce(http, OutcomeCookie, "/console/operator", outcome, TimeSpan.FromMinutes(2));
        return TypedResults.Redirect("/console/operator");
    }

    private static async Task<IResult> CreateOperatorKeyAsync(
        [FromForm, SingleLine, MaxLength(200)] string? label, [FromForm, SingleLine, MaxLength(16)] string? scope, HttpContext http, OperatorKeys keys)
    {
        if (!KeyScopes.TryParse(scope ?? "operator", out OperatorKeyScope keyScope))
        {
            return Message(http, "No key made", "A key's scope is operator or metrics.", 400, back: "/console/operator");
        }
        var (_, key) = await keys.CreateAsync(string.IsNullOrWhiteSpace(label) ? null : label.Trim(), keyScope, http.RequestAborted);
        return ShowOnce(http, "New operator key", keyScope == OperatorKeyScope.Metrics
            ? "A bearer key that reads every tenant's /metrics and nothing else: give it to Prometheus."
            : "A bearer key for the operator API: it can act on every tenant.", key, "/console/operator");
    }

    private static async Task<IResult> ConfirmRevokeOperatorKeyAsync(Guid id, HttpContext http, BrokerDbContext db) =>
        await db.OperatorApiKeys.AsNoTracking().SingleOrDefaultAsync(k => k.Id == id && k.RevokedAt == null, http.RequestAborted) is { } key
            ? Confirm(http, $"Revoke the operator key {key.DisplayPrefix}…?",
                $"Whatever uses it{(key.Label is { } l ? $" ({l})" : "")} is refused from its next request on"
                + (key.Scope == OperatorKeyScope.Metrics ? ": a Prometheus scraping with it loses every tenant's series." : ". This cannot be undone."),
                $"/console/operator/keys/{id}/revoke", "Revoke the key", "/console/operator")
            : Message(http, "Not found", "There is no such operator key, or it is revoked already.", 404, back: "/console/operator");

    private static async Task<IResult> RevokeOperatorKeyAsync(Guid id, HttpContext http, OperatorKeys keys) =>
        await keys.RevokeAsync(id, http.RequestAborted)
            ? TypedResults.LocalRedirect("/console/operator")
            : Message(http, "Not found", "There is no such operator key, or it is revoked already.", 404, back: "/console/operator");
}
