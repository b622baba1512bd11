using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Broker.Data;
using Broker.People;
using Broker.Tenants;
using Microsoft.AspNetCore.Authentication;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Broker.Admin;

/// <summary>Where the bootstrap operator token comes from: configuration or a file (a Docker secret).</summary>
public sealed class OperatorOptions
{
    public const string SectionName = "Operator";
    public string? Token { get; set; }
    public string? TokenFile { get; set; }

    internal string? Resolve() =>
        TokenFile is { Length: > 0 } file && File.Exists(file) ? File.ReadAllText(file).Trim() : Token is { Length: > 0 } t ? t : null;
}

/// <summary>
/// Authenticates operators on the HTTP API: a named operator API key (<c>brko_…</c>, looked up by
/// its SHA-256 hash, revocable) or the bootstrap token from configuration (compared in constant
/// time), which Prometheus and first set-up use. Without either, nobody is an operator on the API.
/// </summary>
internal sealed class OperatorTokenHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder,
    IOptions<OperatorOptions> operatorOptions, BrokerDbContext db)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "OperatorToken";
    public const string OperatorClaim = ConsoleClaims.OperatorClaim;

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var header = Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return AuthenticateResult.NoResult();
        }
        var token = header["Bearer ".Length..].Trim();
        string actor;
        if (token.StartsWith(OperatorApiKey.Prefix, StringComparison.Ordinal))
        {
            var hash = SecretToken.Hash(token);
            var prefix = await db.OperatorApiKeys.Where(k => k.KeyHash == hash && k.RevokedAt == null)
                .Select(k => k.DisplayPrefix).SingleOrDefaultAsync(Context.RequestAborted);
            if (prefix is null)
            {
                return AuthenticateResult.Fail("Unknown or revoked operator key.");
            }
            actor = $"operator-key:{prefix}";
        }
        else if (operatorOptions.Value.Resolve() is { } expected
            && CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(token)), SHA256.HashData(Encoding.UTF8.GetBytes(expected))))
        {
            actor = "operator-token";
        }
        else
        {
            return AuthenticateResult.NoResult(); // may still be a tenant key
        }
        var identity = new ClaimsIdentity([new Claim(OperatorClaim, "true"), new Claim(ConsoleClaims.ActorClaim, actor)], SchemeName);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.Headers.WWWAuthenticate = "Bearer";
        return base.HandleChallengeAsync(properties);
    }
}
