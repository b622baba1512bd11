using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace Broker.Tesla;

/// <summary>
/// Fleet API calls on behalf of one account. Each call names the account's regional base URL;
/// a 421 "user out of region, use base URL: X" is retried once at X when X is a configured region.
/// </summary>
public sealed partial class TeslaFleetClient(HttpClient http, IOptions<TeslaOptions> options, ILogger<TeslaFleetClient> logger)
{
    private readonly TeslaOptions _options = options.Value;

    /// <summary><c>/api/1/users/region</c>: answers on any regional host (TESLA.md §3).</summary>
    public async Task<UserRegion> GetRegionAsync(string baseUrl, string accessToken, CancellationToken ct) =>
        (await GetAsync<UserRegion>(baseUrl, "/api/1/users/region", accessToken, ct)).Value
        ?? throw new TeslaApiException(200, "malformed_response", "Tesla's region answer was empty.");

    /// <summary><c>/api/1/products</c>: vehicles and energy sites; does not wake a car.</summary>
    public async Task<IReadOnlyList<Product>> GetProductsAsync(string baseUrl, string accessToken, CancellationToken ct) =>
        (await GetAsync<List<Product>>(baseUrl, "/api/1/products", accessToken, ct)).Value ?? [];

    private async Task<(T? Value, string BaseUrl)> GetAsync<T>(string baseUrl, string path, string accessToken, CancellationToken ct)
    {
        for (var attempt = 0; ; attempt++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, baseUrl.TrimEnd('/') + path);
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(_options.FleetRequestTimeoutSeconds));
            HttpResponseMessage response;
            try
            {
                response = await http.SendAsync(request, timeout.Token);
            }
            catch (OperationCanceledException ex) when (!ct.IsCancellationRequested)
            {
                throw new TeslaApiException(null, "timeout", $"Tesla did not answer {path} in time.", ex);
            }
            catch (HttpRequestException ex)
            {
                throw new TeslaApiException(null, "unreachable", $"Tesla could not be reached for {path}.", ex);
            }

            using (response)
            {
                var body = await response.Content.ReadAsStringAsync(timeout.Token);
                if (response.StatusCode == HttpStatusCode.MisdirectedRequest && attempt == 0
                    && OtherRegion(body) is { } redirected && _options.RegionOf(redirected) is not null)
                {
                    logger.LogInformation("Tesla says the user lives in another region; retrying {Path} at {BaseUrl}", path, redirected);
                    baseUrl = redirected;
                    continue;
                }
                var envelope = Parse<T>(body, path, (int)response.StatusCode);
                if (!response.IsSuccessStatusCode)
                {
                    logger.LogWarning("Tesla answered {Status} to {Path}: {Error}", (int)response.StatusCode, path, envelope?.Error);
                    throw new TeslaApiException((int)response.StatusCode, envelope?.Error, $"Tesla answered {(int)response.StatusCode} to {path}.");
                }
                return (envelope is null ? default : envelope.Response, baseUrl);
            }
        }
    }

    private FleetEnvelope<T>? Parse<T>(string body, string path, int status)
    {
        try
        {
            return JsonSerializer.Deserialize<FleetEnvelope<T>>(body);
        }
        catch (JsonException ex)
        {
            if (status is >= 200 and < 300)
            {
                logger.LogWarning("Tesla answered {Path} with an unreadable body", path);
                throw new TeslaApiException(status, "malformed_response", $"Tesla answered {path} with something unreadable.", ex);
            }
            return null; // error bodies are sometimes plain text ("Retry in 37829 seconds"); the status says enough
        }
    }

    private static string? OtherRegion(string body) =>
        UseBaseUrl().Match(body) is { Success: true } m ? m.Groups[1].Value.TrimEnd('/', ',') : null;

    [GeneratedRegex(@"use base URL: (https?://[-a-zA-Z0-9.:]+)")]
    private static partial Regex UseBaseUrl();
}
