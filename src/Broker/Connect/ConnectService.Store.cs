using Broker.Accounts;
using Broker.Tesla;
using Broker.Vault;
using Microsoft.EntityFrameworkCore;
using Microsoft.IdentityModel.JsonWebTokens;

namespace Broker.Connect;

/// <summary>What a connect writes besides the account: its encrypted tokens (devices: <see cref="AccountDevices"/>).</summary>
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
