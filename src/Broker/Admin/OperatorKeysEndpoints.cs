using System.ComponentModel.DataAnnotations;
using Broker.Data;
using Broker.Hosting;
using Broker.Tenants;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace Broker.Admin;

/// <param name="Scope">operator (the default): every route on every tenant; metrics: GET /metrics of every tenant, nothing else (Prometheus).</param>
public sealed record CreateOperatorKeyRequest([property: MaxLength(200), SingleLine] string? Label, OperatorKeyScope Scope = OperatorKeyScope.Operator);

public sealed record OperatorKeyResponse(Guid Id, string Prefix, string? Label, string Scope, string CreatedBy, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt, string? Key = null);

/// <summary>Named, revocable operator API keys (<c>/api/v1/operator/keys</c>), shown once at creation.</summary>
public static class OperatorKeysEndpoints
{
    public static RouteGroupBuilder MapOperatorKeys(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/api/v1/operator/keys").WithTags("Operator keys").RequireAuthorization(AdminPolicies.Operator);

        group.MapGet("/", async Task<Ok<List<OperatorKeyResponse>>> (BrokerDbContext db, HttpContext http) =>
            TypedResults.Ok(await db.OperatorApiKeys.AsNoTracking().OrderBy(k => k.CreatedAt)
                .Select(k => new OperatorKeyResponse(k.Id, k.DisplayPrefix, k.Label, k.Scope.Name(), k.CreatedBy, k.CreatedAt, k.RevokedAt, null)).ToListAsync(http.RequestAborted)))
            .Describe("listOperatorKeys", "List operator API keys");

        group.MapPost("/", async Task<Created<OperatorKeyResponse>> (CreateOperatorKeyRequest request, OperatorKeys keys, HttpContext http) =>
        {
            var (row, key) = await keys.CreateAsync(request.Label, request.Scope, http.RequestAborted);
            return TypedResults.Created($"/api/v1/operator/keys/{row.Id}", new OperatorKeyResponse(row.Id, row.DisplayPrefix, row.Label, row.Scope.Name(), row.CreatedBy, row.CreatedAt, null, key));
        }).Describe("createOperatorKey", "Create an operator API key (the key is in this answer only)");

        group.MapDelete("/{id:guid}", async Task<Results<NoContent, NotFound>> (Guid id, OperatorKeys keys, HttpContext http) =>
            await keys.RevokeAsync(id, http.RequestAborted) ? TypedResults.NoContent() : TypedResults.NotFound())
            .Describe("revokeOperatorKey", "Revoke an operator API key");
        return group;
    }
}

/// <summary>Creates and revokes operator keys; the console and the API share it.</summary>
public sealed class OperatorKeys(BrokerDbContext db, AuditLog audit, TimeProvider time)
{
    public async Task<(OperatorApiKey Row, string Key)> CreateAsync(string? label, OperatorKeyScope scope, CancellationToken ct)
    {
        var key = OperatorApiKey.Prefix + SecretToken.New();
        var entry = audit.Add("operator_key.created", detail: $"prefix={key[..11]}; scope={scope.Name()}{(label is null ? "" : $"; label={label}")}");
        var row = new OperatorApiKey
        {
            KeyHash = SecretToken.Hash(key), DisplayPrefix = key[..11], Label = label, Scope = scope, CreatedBy = entry.Actor, CreatedAt = time.GetUtcNow(),
        };
        db.OperatorApiKeys.Add(row);
        await db.SaveChangesAsync(ct);
        return (row, key);
    }

    public async Task<bool> RevokeAsync(Guid id, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var revoked = await db.OperatorApiKeys.Where(k => k.Id == id && k.RevokedAt == null).ExecuteUpdateAsync(s => s.SetProperty(k => k.RevokedAt, now), ct);
        if (revoked > 0)
        {
            audit.Add("operator_key.revoked", detail: $"key={id}");
            await db.SaveChangesAsync(ct);
        }
        return revoked > 0;
    }
}
