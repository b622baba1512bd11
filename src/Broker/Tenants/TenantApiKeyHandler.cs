using System.Security.Claims;
using System.Text.Encodings.Web;
using Broker.Data;
using Microsoft.AspNetCore.Authentication;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Broker.Tenants;

/// <summary>
/// Authenticates <c>Authorization: Bearer brk_...</c> tenant API keys by their SHA-256 hash.
/// The principal carries the tenant and what the key's scope allows (<see cref="KeyScopes"/>); the key itself is never logged.
/// </summary>
internal sealed class TenantApiKeyHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, BrokerDbContext db)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "TenantApiKey";
    public const string TenantIdClaim = "tenant_id";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (SecretToken.Bearer(Request.Headers.Authorization.ToString()) is not { } key || !key.StartsWith(SecretToken.ApiKeyPrefix, StringComparison.Ordinal))
        {
            return AuthenticateResult.NoResult();
        }
        var hash = SecretToken.Hash(key);
        var found = await db.TenantApiKeys
            .Where(k => k.KeyHash == hash && k.RevokedAt == null)
            .Select(k => new { k.TenantId, k.Prefix, k.Scope })
            .SingleOrDefaultAsync(Context.RequestAborted);
        if (found is null)
        {
            return AuthenticateResult.Fail("Unknown or revoked API key.");
        }
        var identity = new ClaimsIdentity(
            [.. KeyScopes.ForTenantKey(found.TenantId, found.Scope), new Claim(People.ConsoleClaims.ActorClaim, $"tenant-key:{found.Prefix}")], SchemeName);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.Headers.WWWAuthenticate = "Bearer";
        return base.HandleChallengeAsync(properties);
    }
}
