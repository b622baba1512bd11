using Broker.Connect;
using Broker.Data;
using Microsoft.EntityFrameworkCore;

namespace Broker.Tenants;

/// <summary>Creates tenants, API keys and connect links. Returns each secret once; stores only hashes.</summary>
public sealed class TenantProvisioning(BrokerDbContext db, TimeProvider time)
{
    public async Task<Tenant> EnsureTenantAsync(string slug, string name, CancellationToken ct)
    {
        var tenant = await db.Tenants.SingleOrDefaultAsync(t => t.Slug == slug, ct);
        if (tenant is null)
        {
            tenant = new Tenant { Slug = slug, Name = name, CreatedAt = time.GetUtcNow() };
            db.Tenants.Add(tenant);
            await db.SaveChangesAsync(ct);
        }
        return tenant;
    }

    /// <summary>Stores the hash of <paramref name="apiKey"/> (made fresh when null) and returns the key.</summary>
    public async Task<string> AddApiKeyAsync(Guid tenantId, string? label, CancellationToken ct, string? apiKey = null)
    {
        apiKey ??= SecretToken.NewApiKey();
        var hash = SecretToken.Hash(apiKey);
        if (!await db.TenantApiKeys.AnyAsync(k => k.KeyHash == hash, ct))
        {
            db.TenantApiKeys.Add(new TenantApiKey
            {
                TenantId = tenantId, KeyHash = hash, Prefix = apiKey[..Math.Min(10, apiKey.Length)],
                Label = label, CreatedAt = time.GetUtcNow(),
            });
            await db.SaveChangesAsync(ct);
        }
        return apiKey;
    }

    /// <summary>Stores the hash of a connect-link token (made fresh when null) and returns the link and its token.</summary>
    public async Task<(ConnectLink Link, string Token)> AddConnectLinkAsync(Guid tenantId, string? label, CancellationToken ct, string? token = null)
    {
        token ??= SecretToken.New();
        var hash = SecretToken.Hash(token);
        var link = await db.ConnectLinks.SingleOrDefaultAsync(l => l.TokenHash == hash, ct);
        if (link is null)
        {
            link = new ConnectLink { TenantId = tenantId, TokenHash = hash, Label = label, CreatedAt = time.GetUtcNow() };
            db.ConnectLinks.Add(link);
            await db.SaveChangesAsync(ct);
        }
        return (link, token);
    }
}
