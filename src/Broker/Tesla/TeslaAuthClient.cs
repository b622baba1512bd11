using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.Options;

namespace Broker.Tesla;

/// <summary>
/// Calls a realm's token endpoint (form-urlencoded, <c>client_secret_post</c>) with that realm's app: China's own, or
/// the global one (<see cref="TeslaRealm"/>). Its named HttpClient also fetches discovery and JWKS for the id_token
/// check. Logs name the grant, the realm and the outcome, never a code or a token.
/// </summary>
public sealed class TeslaAuthClient(HttpClient http, IOptions<TeslaOptions> options, ILogger<TeslaAuthClient> logger)
{
    public const string HttpClientName = "TeslaAuth";

    private readonly TeslaOptions _options = options.Value;

    /// <summary>Redeems an authorization code. <paramref name="audience"/> is a Fleet API base of the same realm.</summary>
    public Task<TeslaTokenResponse> ExchangeCodeAsync(TeslaRealm realm, string code, string redirectUri, string? codeVerifier, string audience, CancellationToken ct)
    {
        var form = new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code",
            ["client_id"] = Usable(realm, audience).ClientId,
            ["code"] = code,
            ["audience"] = audience,
            ["redirect_uri"] = redirectUri,
        };
        if (realm.ClientSecret is { Length: > 0 } secret)
        {
            form["client_secret"] = secret;
        }
        if (codeVerifier is { Length: > 0 })
        {
            form["code_verifier"] = codeVerifier;
        }
        return PostAsync(realm, "authorization_code", form, ct);
    }

    /// <summary>Rotates a refresh token at the realm that issued it. Tesla wants no client secret here (TESLA.md §1.5).</summary>
    public Task<TeslaTokenResponse> RefreshAsync(TeslaRealm realm, string refreshToken, CancellationToken ct) =>
        PostAsync(realm, "refresh_token", new Dictionary<string, string>
        {
            ["grant_type"] = "refresh_token",
            ["client_id"] = Usable(realm).ClientId,
            ["refresh_token"] = refreshToken,
        }, ct);

    /// <summary>
    /// A partner token (<c>client_credentials</c>, TESLA.md §1.6) for the partner endpoints of the Fleet API at
    /// <paramref name="audience"/>, with the realm's app. Needs its client secret; it has no refresh token and is never stored.
    /// </summary>
    public Task<TeslaTokenResponse> GetPartnerTokenAsync(TeslaRealm realm, string audience, IEnumerable<string> scopes, CancellationToken ct) =>
        Usable(realm, audience).ClientSecret is { Length: > 0 } secret
            ? PostAsync(realm, "client_credentials", new Dictionary<string, string>
            {
                ["grant_type"] = "client_credentials",
                ["client_id"] = realm.ClientId,
                ["client_secret"] = secret,
                ["scope"] = string.Join(' ', scopes),
                ["audience"] = audience,
            }, ct)
            : throw new TeslaAuthException("invalid_client", null, $"Partner tokens need the app's client secret: set {realm.ConfigurationKey}:ClientSecret.");

    /// <summary>
    /// Refuses before anything leaves: a realm without its app (China before Tesla:Auth:cn:ClientId is set), or an
    /// audience of another realm, which would hand one realm's code or name one realm's host to the other.
    /// </summary>
    private TeslaRealm Usable(TeslaRealm realm, string? audience = null)
    {
        if (!realm.IsConfigured)
        {
            throw new TeslaAuthException("invalid_client", null, $"Tesla's {realm.Name} sign-in is not configured: set {realm.ConfigurationKey}:ClientId.");
        }
        if (audience is not null && !realm.Regions.Any(r => string.Equals(_options.RegionBaseUrl(r), audience.TrimEnd('/'), StringComparison.OrdinalIgnoreCase)))
        {
            throw new InvalidOperationException($"The audience is not a Fleet API host of the {realm.Name} realm.");
        }
        return realm;
    }

    private async Task<TeslaTokenResponse> PostAsync(TeslaRealm realm, string grant, Dictionary<string, string> form, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(_options.TokenRequestTimeoutSeconds));
        HttpResponseMessage response;
        try
        {
            response = await http.PostAsync(realm.TokenEndpoint, new FormUrlEncodedContent(form), timeout.Token);
        }
        catch (OperationCanceledException ex) when (!ct.IsCancellationRequested)
        {
            logger.LogWarning("Tesla token endpoint of the {Realm} realm timed out after {Seconds} s ({Grant})", realm.Name, _options.TokenRequestTimeoutSeconds, grant);
            throw new TeslaAuthException("timeout", null, "Tesla's sign-in service did not answer in time.", ex);
        }
        catch (HttpRequestException ex)
        {
            logger.LogWarning("Tesla token endpoint of the {Realm} realm unreachable ({Grant}): {Reason}", realm.Name, grant, ex.Message);
            throw new TeslaAuthException("unreachable", null, "Tesla's sign-in service could not be reached.", ex);
        }

        using (response)
        {
            var status = (int)response.StatusCode;
            if (response.IsSuccessStatusCode)
            {
                var tokens = await ReadAsync<TeslaTokenResponse>(response, grant, timeout.Token);
                if (tokens is not { AccessToken.Length: > 0 } || tokens.ExpiresIn <= 0)
                {
                    logger.LogWarning("Tesla token endpoint answered {Status} without a usable token ({Grant})", status, grant);
                    throw new TeslaAuthException("malformed_response", status, "Tesla's sign-in service answered without a token.");
                }
                return tokens;
            }
            var error = await ReadAsync<TeslaAuthError>(response, grant, timeout.Token, throwOnMalformed: false);
            var code = error?.Error is { Length: > 0 } e ? e : $"http_{status}";
            logger.LogWarning("Tesla token endpoint of the {Realm} realm refused the {Grant} grant: {Status} {Error}", realm.Name, grant, status, code);
            throw new TeslaAuthException(code, status, $"Tesla refused the request ({code}).");
        }
    }

    private async Task<T?> ReadAsync<T>(HttpResponseMessage response, string grant, CancellationToken ct, bool throwOnMalformed = true)
    {
        try
        {
            return await response.Content.ReadFromJsonAsync<T>(ct);
        }
        catch (Exception ex) when (ex is JsonException or NotSupportedException or InvalidOperationException)
        {
            if (!throwOnMalformed)
            {
                return default;
            }
            logger.LogWarning("Tesla token endpoint answered {Status} with an unreadable body ({Grant})", (int)response.StatusCode, grant);
            throw new TeslaAuthException("malformed_response", (int)response.StatusCode, "Tesla's sign-in service answered something unreadable.", ex);
        }
    }
}
