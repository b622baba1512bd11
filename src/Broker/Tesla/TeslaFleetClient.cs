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
/// retried once at X when X is a configured region of the same realm (a China token never goes to a global host, nor
/// the other way round), and <see cref="FleetAccount"/>'s caller learns the new base from <see cref="LastBaseUrl"/>. Every attempt is counted in <see cref="FleetUsage"/> by <see cref="FleetUsageHandler"/>.
/// </summary>
public sealed partial class TeslaFleetClient(HttpClient http, IOptions<TeslaOptions> options, FleetUsage usage, ILogger<TeslaFleetClient> logger)
{
    private readonly TeslaOptions _options = options.Value;

    /// <summary>The base URL the last call was answered from (differs after a 421).</summary>
    public string? LastBaseUrl { get; private set; }

    public async Task<UserRegion> GetRegionAsync(FleetAccount account, CancellationToken ct) =>
        Read<UserRegion>(account, await SendAsync(account, HttpMethod.Get, "/api/1/users/region", FleetCategory.Free, null, ct))
        ?? throw Malformed(account, "Tesla's region answer was empty.");

    /// <summary><c>/api/1/users/me</c>: the owner's email and name; needs <c>user_data</c> (tesla-confirmed §1).</summary>
    public async Task<UserProfile?> GetMeAsync(FleetAccount account, CancellationToken ct) =>
        Read<UserProfile>(account, await SendAsync(account, HttpMethod.Get, "/api/1/users/me", FleetCategory.Free, null, ct));

    /// <summary><c>/api/1/products</c>: vehicles and energy sites; does not wake a car.</summary>
    public async Task<IReadOnlyList<Product>> GetProductsAsync(FleetAccount account, CancellationToken ct) =>
        Read<List<Product>>(account, await SendAsync(account, HttpMethod.Get, "/api/1/products", FleetCategory.Free, null, ct)) ?? [];

    /// <summary>
    /// Every page of <c>/api/1/vehicles</c>: the cars' states without waking them. Tesla's <c>pagination.next</c> decides
    /// (a page may be shorter than asked for and still not be the last); without a pagination object, a full page means
    /// there may be another.
    /// </summary>
    public async Task<IReadOnlyList<Product>> ListVehiclesAsync(FleetAccount account, CancellationToken ct)
    {
        const int perPage = 100;
        var all = new List<Product>();
        for (int? page = 1, pages = 0; page is { } current && pages < 50; pages++)
        {
            var body = await SendAsync(account, HttpMethod.Get, $"/api/1/vehicles?page={current}&per_page={perPage}", FleetCategory.Free, null, ct);
            account = account with { BaseUrl = LastBaseUrl ?? account.BaseUrl }; // after a 421, the next pages go where Tesla said
            var (paginated, next) = NextPage(body); // before Read, which disposes the document
            var items = Read<List<Product>>(account, body) ?? [];
            all.AddRange(items);
            page = paginated ? (next > current ? next : null) : (items.Count >= perPage ? current + 1 : null);
        }
        return all;
    }

    /// <summary>vehicle_data (billed as data). 408 means asleep/offline: <see cref="VehicleUnavailableException"/>.</summary>
    public async Task<JsonElement> GetVehicleDataAsync(FleetAccount account, string vin, bool withLocation, CancellationToken ct)
    {
        var endpoints = "charge_state;climate_state;drive_state;vehicle_state;vehicle_config" + (withLocation ? ";location_data" : "");
        var body = await SendAsync(account, HttpMethod.Get, $"/api/1/vehicles/{vin}/vehicle_data?endpoints={Uri.EscapeDataString(endpoints)}", FleetCategory.Data, vin, ct);
        using (body)
        {
            // An object with none of the sections asked for is not a reading: it must not refresh the data's timestamp.
            return ResponseOf(body) is { ValueKind: JsonValueKind.Object } response
                && endpoints.Split(';').Any(e => response.TryGetProperty(e, out var section) && section.ValueKind == JsonValueKind.Object)
                ? response.Clone()
                : throw Malformed(account, "vehicle_data answered without any of the requested sections.");
        }
    }

    /// <summary>wake_up (billed as a wake): returns at once; the car comes online later.</summary>
    public async Task WakeUpAsync(FleetAccount account, string vin, CancellationToken ct) =>
        (await SendAsync(account, HttpMethod.Post, $"/api/1/vehicles/{vin}/wake_up", FleetCategory.Wake, vin, ct)).Dispose();

    /// <summary>Energy site live_status (not billed).</summary>
    public async Task<JsonElement> GetLiveStatusAsync(FleetAccount account, long energySiteId, CancellationToken ct)
    {
        var body = await SendAsync(account, HttpMethod.Get, $"/api/1/energy_sites/{energySiteId}/live_status", FleetCategory.Free, energySiteId.ToString(), ct);
        using (body)
        {
            return ResponseOf(body) is { ValueKind: JsonValueKind.Object } response
                ? response.Clone()
                : throw Malformed(account, "live_status answered without a response object.");
        }
    }

    /// <summary>fleet_status (not billed): which of the cars hold the operator's virtual key (TESLA.md §4.6).</summary>
    public async Task<FleetStatus> GetFleetStatusAsync(FleetAccount account, IReadOnlyList<string> vins, CancellationToken ct) =>
        Read<FleetStatus>(account, await SendAsync(account, HttpMethod.Post, "/api/1/vehicles/fleet_status", FleetCategory.Free, vins.Count == 1 ? vins[0] : null, ct, new { vins }))
        ?? throw Malformed(account, "fleet_status answered without a response object.");

    /// <summary>Registers the partner domain in one region with a partner token; Tesla downloads the public key from it (TESLA.md §4.2).</summary>
    public async Task RegisterPartnerAsync(string baseUrl, string partnerToken, string domain, CancellationToken ct) =>
        (await SendAsync(PartnerCaller(baseUrl, partnerToken), HttpMethod.Post, "/api/1/partner_accounts", FleetCategory.Free, null, ct, new { domain })).Dispose();

    /// <summary>The public key Tesla holds for <paramref name="domain"/> in that region, as uncompressed hex (TESLA.md §4.3).</summary>
    public async Task<string?> GetPartnerPublicKeyAsync(string baseUrl, string partnerToken, string domain, CancellationToken ct)
    {
        var partner = PartnerCaller(baseUrl, partnerToken);
        return Read<PartnerPublicKey>(partner, await SendAsync(partner, HttpMethod.Get,
            $"/api/1/partner_accounts/public_key?domain={Uri.EscapeDataString(domain)}", FleetCategory.Free, null, ct))?.PublicKey;
    }

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
                    && OtherRegion(text) is { } redirected && SameRealm(baseUrl, redirected))
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
                        throw Malformed(account, $"Tesla answered {Redact(path)} with something unreadable.", ex);
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

    private T? Read<T>(FleetAccount account, JsonDocument body)
    {
        using (body)
        {
            try
            {
                return ResponseOf(body) is { } r ? r.Deserialize<T>(TeslaText.Options) : default;
            }
            catch (JsonException ex)
            {
                throw Malformed(account, "Tesla answered something unreadable.", ex);
            }
        }
    }

    /// <summary>A 2xx answer that cannot be used (truncated, empty, HTML, the wrong shape): counted as a failure.</summary>
    private TeslaApiException Malformed(FleetAccount account, string message, Exception? inner = null)
    {
        usage.RecordFailure(account, "malformed", 200);
        return new TeslaApiException(200, "malformed_response", message, inner);
    }

    /// <summary>The envelope's <c>response</c>; null when the answer is not an envelope at all (an array, a bare value).</summary>
    private static JsonElement? ResponseOf(JsonDocument body) =>
        body.RootElement.ValueKind == JsonValueKind.Object && body.RootElement.TryGetProperty("response", out var r) ? r : null;

    /// <summary>Whether the answer has a pagination object, and the page it names as next (null: the last one).</summary>
    private static (bool Paginated, int? Next) NextPage(JsonDocument body) =>
        body.RootElement.ValueKind == JsonValueKind.Object && body.RootElement.TryGetProperty("pagination", out var p) && p.ValueKind == JsonValueKind.Object
            ? (true, p.TryGetProperty("next", out var next) && next.ValueKind == JsonValueKind.Number && next.TryGetInt32(out var n) ? n : null)
            : (false, null);

    private static string? ErrorOf(string body)
    {
        try
        {
            using var doc = JsonDocument.Parse(body);
            return doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.String ? e.GetString() : null;
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

    /// <summary>Both are configured regions of one realm: only then may the account's token go from one to the other.</summary>
    private bool SameRealm(string from, string to) =>
        _options.RegionOf(from) is { } a && _options.RegionOf(to) is { } b && _options.RealmNameOf(a) == _options.RealmNameOf(b);

    private static string? OtherRegion(string body) =>
        UseBaseUrl().Match(body) is { Success: true } m ? m.Groups[1].Value.TrimEnd('/', ',') : null;

    [GeneratedRegex(@"use base URL: (https?://[-a-zA-Z0-9.:]+)")]
    private static partial Regex UseBaseUrl();
}

/// <summary>
/// How Fleet API answers are read: every string is cleaned of control characters (<see cref="Hosting.TextInput"/>),
/// so a display name with a NUL (Postgres cannot store one) or a line break does not fail a connect or a poll.
/// </summary>
internal static class TeslaText
{
    public static readonly JsonSerializerOptions Options = new() { Converters = { new CleanStringConverter() } };

    private sealed class CleanStringConverter : System.Text.Json.Serialization.JsonConverter<string>
    {
        public override string? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            Hosting.TextInput.Clean(reader.GetString());

        public override void Write(Utf8JsonWriter writer, string value, JsonSerializerOptions options) => writer.WriteStringValue(value);
    }
}

/// <summary>The car is asleep or offline (408): not an error, just no data now.</summary>
public sealed class VehicleUnavailableException(int status) : Exception($"The vehicle is asleep or offline ({status}).");
