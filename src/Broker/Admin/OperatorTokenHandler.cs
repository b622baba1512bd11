using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace Broker.Admin;

/// <summary>Where the operator's bearer token comes from: configuration or a file (a Docker secret).</summary>
public sealed class OperatorOptions
{
    public const string SectionName = "Operator";
    public string? Token { get; set; }
    public string? TokenFile { get; set; }

    internal string? Resolve() =>
        TokenFile is { Length: > 0 } file && File.Exists(file) ? File.ReadAllText(file).Trim() : Token is { Length: > 0 } t ? t : null;
}

/// <summary>
/// Authenticates the operator's bearer token (compared in constant time). Without a configured
/// token nobody is an operator. Issue-4 accounts will replace this with named operator keys.
/// </summary>
internal sealed class OperatorTokenHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, IOptions<OperatorOptions> operatorOptions)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "OperatorToken";
    public const string OperatorClaim = "operator";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var header = Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) || operatorOptions.Value.Resolve() is not { } expected)
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }
        var given = SHA256.HashData(Encoding.UTF8.GetBytes(header["Bearer ".Length..].Trim()));
        if (!CryptographicOperations.FixedTimeEquals(given, SHA256.HashData(Encoding.UTF8.GetBytes(expected))))
        {
            return Task.FromResult(AuthenticateResult.NoResult()); // may still be a tenant key
        }
        var identity = new ClaimsIdentity([new Claim(OperatorClaim, "true")], SchemeName);
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName)));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.Headers.WWWAuthenticate = "Bearer";
        return base.HandleChallengeAsync(properties);
    }
}
