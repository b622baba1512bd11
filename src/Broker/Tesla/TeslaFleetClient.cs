using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace Broker.Tesla;

/// <summary>Who a Fleet API call is made for: the account's region base URL and a current access token.</summary>
public sealed record FleetAccount(Guid TenantId, Guid AccountId, string BaseUrl, string AccessToken);

/// <summary>
/// Fleet API calls on behalf of one account. A 421 "user out of region, use base URL: X" is
/// retried once at X when X is a configured region (and <see cref="FleetAccount"/>'s caller learns
/// the new base from <see cref="LastBaseUrl"/>). Every attempt is counted in <see cref="FleetUsage"/> by <see cref="FleetUsageHandler"/>.
/// </summary>
public sealed partial class TeslaFleetClient(HttpClient http, IOptions<TeslaOptions> options, FleetUsage usage, ILogger<TeslaFleetClient> logger)
{
    private readonly TeslaOptions _options = options.Value;

    /// <summary>The base URL the last call was answered from (differs after a 421).</summary>
    public string? LastBaseUrl { get; private set; }

    public async Task<UserRegion> GetRegionAsync(FleetAccount account, CancellationToken ct) =>
        Read<UserRegion>(await SendAsync(account, HttpMethod.Get, "/api/1/users/region", FleetCategory.Free, null, ct))
        ?? throw new TeslaApiException(200, "malformed_response", "Tesla's region answer was empty.");

    /// <summary><c>/api/1/products</c>: vehicles and energy sites; does not wake a car.</summary>
    public async Task<IReadOnlyList<Product>> GetProductsAsync(FleetAccount account, CancellationToken ct) =>
        Read<List<Product>>(await SendAsync(account, HttpMethod.Get, "/api/1/products", FleetCategory.Free, null, ct)) ?? [];

    /// <summary>Every page of <c>/api/1/vehicles</c>: the cars' states without waking them.</summary>
    public async Task<IReadOnlyList<Product>> ListVehiclesAsync(FleetAccount account, CancellationToken ct)
    {
        var all = new List<Product>();
        for (var page = 1; page <= 50; page++)
        {
            var body = await SendAsync(account, HttpMethod.Get, $"/api/1/vehicles?page={page}&per_page=100", FleetCategory.Free, null, ct);
            var more = HasNextPage(body); // before Read, which disposes the body
            var items = Read<List<Product>>(body) ?? [];
            all.AddRange(items);
            if (items.Count < 100 || !more)
            {
                break;
            }
        }
        return all;
    }

    /// <summary>vehicle_data (billed as data). 408 means asleep/offline: <see cref="VehicleUnavailableException"/>.</summary>
    public async Task<JsonElement> GetVehicleDataAsync(FleetAccount account, string vin, bool withLocation, CancellationToken ct)
    {
        var endpoints = "charge_state;climate_state;drive_state;vehicle_state;vehicle_config" + (withLocation ? ";location_data" : "");
        var body = await SendAsync(account, HttpMethod.Get, $"/api/1/vehicles/{vin}/vehicle_data?endpoints={Uri.EscapeDataString(endpoints)}", FleetCategory.Data, vin, ct);
        return body.RootElement.TryGetProperty("response", out var response) && response.ValueKind == JsonValueKind.Object
            ? response.Clone()
            : throw new TeslaApiException(200, "malformed_response", "vehicle_data answered without a response object.");
    }

    /// <summary>wake_up (billed as a wake): returns at once; the car comes online later.</summary>
    public async Task WakeUpAsync(FleetAccount account, string vin, CancellationToken ct) =>
        (await SendAsync(account, HttpMethod.Post, $"/api/1/vehicles/{vin}/wake_up", FleetCategory.Wake, vin, ct)).Dispose();

    /// <summary>Energy site live_status (not billed).</summary>
    public async Task<JsonElement> GetLiveStatusAsync(FleetAccount account, long energySiteId, CancellationToken ct)
    {
        var body = await SendAsync(account, HttpMethod.Get, $"/api/1/energy_sites/{energySiteId}/live_status", FleetCategory.Free, energySiteId.ToString(), ct);
        return body.RootElement.TryGetProperty("response", out var response) && response.ValueKind == JsonValueKind.Object
            ? response.Clone()
            : throw new TeslaApiException(200, "malformed_response", "live_status answered without a response object.");
    }

    /// <summary>fleet_status (not billed): which of the cars hold the operator's virtual key (TESLA.md §4.6).</summary>
    public async Task<FleetStatus> GetFleetStatusAsync(FleetAccount account, IReadOnlyList<string> vins, CancellationToken ct) =>
        Read<FleetStatus>(await SendAsync(account, HttpMethod.Post, "/api/1/vehicles/fleet_status", FleetCategory.Free, vins.Count == 1 ? vins[0] : null, ct, new { vins }))
        ?? throw new TeslaApiException(200, "malformed_response", "fleet_status answered without a response object.");

    /// <summary>Registers the partner domain in one region with a partner token; Tesla downloads the public key from it (TESLA.md §4.2).</summary>
    public async Task RegisterPartnerAsync(string baseUrl, string partnerToken, string domain, CancellationToken ct) =>
        (await SendAsync(PartnerCaller(baseUrl, partnerToken), HttpMethod.Post, "/api/1/partner_accounts", FleetCategory.Free, null, ct, new { domain })).Dispose();

    /// <summary>The public key Tesla holds for <paramref name="domain"/> in that region, as uncompressed hex (TESLA.md §4.3).</summary>
    public async Task<string?> GetPartnerPublicKeyAsync(string baseUrl, string partnerToken, string domain, CancellationToken ct) =>
        Read<PartnerPublicKey>(await SendAsync(PartnerCaller(baseUrl, partnerToken), HttpMethod.Get,
            $"/api/1/partner_accounts/public_key?domain={Uri.EscapeDataString(domain)}", FleetCategory.Free, null, ct))?.PublicKey;

    /// <summary>Partner calls are made for no account: <see cref="Guid.Empty"/> keeps them out of the per-account usage.</summary>
    private static FleetAccount PartnerCaller(string baseUrl, string partnerToken) => new(Guid.Empty, Guid.Empty, baseUrl, partnerToken);

    private async Task<JsonDocument> SendAsync(FleetAccount account, HttpMethod method, string path, FleetCategory category, string? device, CancellationToken ct, object? body = null)
    {
        var baseUrl = account.BaseUrl;
        for (var attempt = 0; ; attempt++)
        {
            using var request = new HttpRequestMessage(method, baseUrl.TrimEnd('/') + path);
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", account.AccessToken);
            if (account.AccountId != Guid.Empty)
            {
                request.Options.Set(FleetUsageHandler.Key, (usage, account, device, category));
            }
            if (method == HttpMethod.Post)
            {
                request.Content = body is null ? new StringContent("{}", System.Text.Encoding.UTF8, "application/json") : JsonContent.Create(body);
            }
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(_options.FleetRequestTimeoutSeconds));
            HttpResponseMessage response;
            try
            {
                response = await http.SendAsync(request, timeout.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or HttpRequestException or Polly.Timeout.TimeoutRejectedException && !ct.IsCancellationRequested)
            {
                throw new TeslaApiException(null, ex is HttpRequestException ? "unreachable" : "timeout", $"Tesla did not answer {Redact(path)}.", ex);
            }

            using (response)
            {
                var status = (int)response.StatusCode;
                var text = await response.Content.ReadAsStringAsync(timeout.Token);
                if (response.StatusCode == HttpStatusCode.MisdirectedRequest && attempt == 0
                    && OtherRegion(text) is { } redirected && _options.RegionOf(redirected) is not null)
                {
                    logger.LogInformation("Tesla says account {AccountId} lives in another region; retrying at {BaseUrl}", account.AccountId, redirected);
                    baseUrl = redirected;
                    continue;
                }
                LastBaseUrl = baseUrl;
                if (response.IsSuccessStatusCode)
                {
                    try
                    {
                        return JsonDocument.Parse(text);
                    }
                    catch (JsonException ex)
                    {
                        throw new TeslaApiException(status, "malformed_response", $"Tesla answered {Redact(path)} with something unreadable.", ex);
                    }
                }
                var error = ErrorOf(text);
                if (response.StatusCode == HttpStatusCode.RequestTimeout || (status is 500 or 503 && error?.Contains("offline or asleep") == true))
                {
                    throw new VehicleUnavailableException(status);
                }
                logger.LogWarning("Tesla answered {Status} to {Path} for account {AccountId}: {Error}", status, Redact(path), account.AccountId, error);
                throw new TeslaApiException(status, error, $"Tesla answered {status} to {Redact(path)}.")
                {
                    RetryAfter = RetryAfterOf(response),
                };
            }
        }
    }

    private static T? Read<T>(JsonDocument body)
    {
        using (body)
        {
            try
            {
                return body.RootElement.TryGetProperty("response", out var r) ? r.Deserialize<T>() : default;
            }
            catch (JsonException ex)
            {
                throw new TeslaApiException(200, "malformed_response", "Tesla answered something unreadable.", ex);
            }
        }
    }

    private static bool HasNextPage(JsonDocument body) =>
        body.RootElement.TryGetProperty("pagination", out var p) && p.TryGetProperty("next", out var next) && next.ValueKind == JsonValueKind.Number;

    private static string? ErrorOf(string body)
    {
        try
        {
            using var doc = JsonDocument.Parse(body);
            return doc.RootElement.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.String ? e.GetString() : null;
        }
        catch (JsonException)
        {
            return body.Length > 80 ? body[..80] : body; // e.g. the plain "Retry in 37829 seconds"
        }
    }

    private static TimeSpan? RetryAfterOf(HttpResponseMessage response) =>
        response.Headers.RetryAfter switch
        {
            { Delta: { } delta } => delta,
            { Date: { } date } => date - DateTimeOffset.UtcNow,
            _ => null,
        };

    private static string Redact(string path) => path.Split('?')[0];

    private static string? OtherRegion(string body) =>
        UseBaseUrl().Match(body) is { Success: true } m ? m.Groups[1].Value.TrimEnd('/', ',') : null;

    [GeneratedRegex(@"use base URL: (https?://[-a-zA-Z0-9.:]+)")]
    private static partial Regex UseBaseUrl();
}

/// <summary>The car is asleep or offline (408): not an error, just no data now.</summary>
public sealed class VehicleUnavailableException(int status) : Exception($"The vehicle is asleep or offline ({status}).");
