using Broker.Accounts;
using Broker.Tesla;
using Broker.Vault;
using Microsoft.EntityFrameworkCore;
using Microsoft.IdentityModel.JsonWebTokens;

namespace Broker.Connect;

/// <summary>What a connect writes besides the account: its encrypted tokens and its vehicles and energy sites.</summary>
public sealed partial class ConnectService
{
    private async Task StoreTokensAsync(Guid accountId, TeslaTokenResponse tokens, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        // The row is absent for a new account and after a revoke; otherwise the new pair replaces the old.
        var token = await db.TeslaTokens.SingleOrDefaultAsync(t => t.AccountId == accountId, ct);
        if (token is null)
        {
            token = new TeslaToken { AccountId = accountId, AccessTokenCipher = [], KeyId = vault.CurrentKeyId };
            db.TeslaTokens.Add(token);
        }
        token.AccessTokenCipher = vault.Encrypt(tokens.AccessToken, TokenContext.Access(accountId));
        token.RefreshTokenCipher = tokens.RefreshToken is { Length: > 0 } r ? vault.Encrypt(r, TokenContext.Refresh(accountId)) : null;
        token.AccessTokenExpiresAt = now.AddSeconds(tokens.ExpiresIn);
        token.RefreshTokenIssuedAt = tokens.RefreshToken is { Length: > 0 } ? now : null;
        token.KeyId = vault.CurrentKeyId;
        token.UpdatedAt = now;
    }

    private void UpsertDevices(TeslaAccount account, IReadOnlyList<Product> products)
    {
        var now = time.GetUtcNow();
        foreach (var p in products.Where(p => p.Vin is { Length: > 0 }))
        {
            var vehicle = account.Vehicles.SingleOrDefault(v => v.Vin == p.Vin);
            if (vehicle is null)
            {
                vehicle = new Vehicle { Vin = p.Vin!, TenantId = account.TenantId, AccountId = account.Id, DiscoveredAt = now };
                account.Vehicles.Add(vehicle);
                db.Vehicles.Add(vehicle); // keys are made here, so EF must be told this row is new
            }
            (vehicle.TeslaId, vehicle.VehicleId, vehicle.DisplayName, vehicle.State, vehicle.LastSeenAt) =
                (p.NumericId() ?? 0, p.VehicleId ?? 0, p.DisplayName, p.State, now);
        }
        foreach (var p in products.Where(p => p.EnergySiteId is not null))
        {
            var site = account.EnergySites.SingleOrDefault(s => s.EnergySiteId == p.EnergySiteId);
            if (site is null)
            {
                site = new EnergySite { EnergySiteId = p.EnergySiteId!.Value, TenantId = account.TenantId, AccountId = account.Id, DiscoveredAt = now };
                account.EnergySites.Add(site);
                db.EnergySites.Add(site);
            }
            (site.SiteName, site.ResourceType, site.HasBattery, site.HasSolar, site.LastSeenAt) =
                (p.SiteName, p.ResourceType, p.Components?.Battery ?? false, p.Components?.Solar ?? false, now);
        }
    }

    internal static string[] GrantedScopes(string accessToken)
    {
        try
        {
            var jwt = new JsonWebToken(accessToken);
            return jwt.TryGetPayloadValue<string[]>("scp", out var scp) ? scp : [];
        }
        catch (ArgumentException)
        {
            return []; // not a JWT: treat as no scopes rather than guess
        }
    }
}
