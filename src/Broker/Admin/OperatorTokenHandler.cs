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

    internal string? Resolve() => ConfiguredToken.Read(Token, TokenFile);
}

internal static class ConfiguredToken
{
    /// <summary>
    /// The file's content when a file is named and exists (a Docker secret), else the value. Empty or blank is none: an empty
    /// token file once made any bearer of only whitespace an operator (found by the compose check).
    /// </summary>
    public static string? Read(string? value, string? file) =>
        (file is { Length: > 0 } && File.Exists(file) ? File.ReadAllText(file).Trim() : value?.Trim()) is { Length: > 0 } token ? token : null;

    public static bool Matches(string presented, string? expected) =>
        presented.Length > 0 && expected is { Length: > 0 }
        && CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(presented)), SHA256.HashData(Encoding.UTF8.GetBytes(expected)));
}

/// <summary>
/// Authenticates operator-level credentials on the HTTP API, each with its scope (<see cref="KeyScopes"/>): a named
/// operator API key (<c>brko_…</c>, looked up by its SHA-256 hash, revocable, operator or metrics scope), the
/// bootstrap operator token from configuration (first set-up), or the metrics token from configuration (Prometheus).
/// Configured tokens are compared in constant time. Without any, nobody is an operator on the API.
/// </summary>
internal sealed class OperatorTokenHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder,
    IOptions<OperatorOptions> operatorOptions, IOptions<Metrics.MetricsOptions> metricsOptions, BrokerDbContext db)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "OperatorToken";
    public const string OperatorClaim = ConsoleClaims.OperatorClaim;

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (SecretToken.Bearer(Request.Headers.Authorization.ToString()) is not { } token)
        {
            return AuthenticateResult.NoResult();
        }
        string actor;
        OperatorKeyScope scope;
        if (token.StartsWith(OperatorApiKey.Prefix, StringComparison.Ordinal))
        {
            var hash = SecretToken.Hash(token);
            var key = await db.OperatorApiKeys.Where(k => k.KeyHash == hash && k.RevokedAt == null)
                .Select(k => new { k.DisplayPrefix, k.Scope }).SingleOrDefaultAsync(Context.RequestAborted);
            if (key is null)
            {
                return AuthenticateResult.Fail("Unknown or revoked operator key.");
            }
            (actor, scope) = ($"operator-key:{key.DisplayPrefix}", key.Scope);
        }
        else if (ConfiguredToken.Matches(token, operatorOptions.Value.Resolve()))
        {
            (actor, scope) = ("operator-token", OperatorKeyScope.Operator);
        }
        else if (ConfiguredToken.Matches(token, metricsOptions.Value.ResolveToken()))
        {
            (actor, scope) = ("metrics-token", OperatorKeyScope.Metrics);
        }
        else
        {
            return AuthenticateResult.NoResult(); // may still be a tenant key
        }
        var identity = new ClaimsIdentity([.. KeyScopes.ForOperatorKey(scope), new Claim(ConsoleClaims.ActorClaim, actor)], SchemeName);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.Headers.WWWAuthenticate = "Bearer";
        return base.HandleChallengeAsync(properties);
    }
}
