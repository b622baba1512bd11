using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Broker.Tests.Infrastructure;

namespace Broker.Tests.Chaos;

/// <summary>
/// Many simulated Tesla owners (a seed file for the simulator: one car each, NA and EU alternating) and the
/// way they get connected: an operator makes a tenant and one connect link per person through the broker's
/// API, then each person walks the OAuth flow (<see cref="TeslaUser"/>) against the broker's real port.
/// </summary>
public static partial class ChaosFleet
{
    public const string Password = "chaos-demo";

    public static string Email(int i) => $"owner{i:D3}@chaos.example";

    /// <summary>Writes the seed file into <paramref name="dir"/> and returns its path.</summary>
    public static string WriteSeed(int accounts, string dir)
    {
        var seed = new
        {
            clients = Array.Empty<object>(),
            accounts = Enumerable.Range(0, accounts).Select(i => new
            {
                email = Email(i),
                password = Password,
                sub = Guid.NewGuid().ToString(),
                region = i % 2 == 0 ? "na" : "eu",
                userId = 2_000_000 + i,
                fullName = $"Owner {i}",
                locale = i % 2 == 0 ? "en-US" : "de-DE",
                vehicles = new[]
                {
                    new
                    {
                        id = 4_000_000_000_000_000 + i, vehicleId = 1_600_000_000 + i, vin = $"5YJ3E1EA0CH{i:D6}",
                        displayName = $"Chaos {i}", carType = "model3", exteriorColor = "PearlWhite",
                        // Asleep: the broker lists (free) every few seconds and needs a live access token for it.
                        state = "asleep", batteryLevel = 60, chargeLimit = 80, odometer = 1000.0 + i,
                        latitude = 37.4, longitude = -122.1, heading = 90, pluggedIn = false,
                    },
                },
                energySites = Array.Empty<object>(),
            }),
        };
        var path = Path.Combine(dir, "chaos-fleet.json");
        File.WriteAllText(path, JsonSerializer.Serialize(seed));
        return path;
    }

    /// <summary>Creates tenant <paramref name="slug"/> with the operator token and connects every owner to it.</summary>
    public static async Task ConnectAllAsync(BrokerProcess broker, SimulatorHost simulator, int accounts, string slug, CancellationToken ct)
    {
        using var api = new HttpClient { BaseAddress = new Uri(broker.BaseUrl) };
        api.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", BrokerApplication.OperatorToken);
        var created = await api.PostAsJsonAsync("/api/v1/tenants", new { slug, name = "Chaos" }, ct);
        Assert.True(created.StatusCode == HttpStatusCode.Created, $"POST /api/v1/tenants: {created.StatusCode} {await created.Content.ReadAsStringAsync(ct)}");
        for (var i = 0; i < accounts; i++)
        {
            var link = await api.PostAsJsonAsync($"/api/v1/tenants/{slug}/connect-links", new { label = Email(i) }, ct);
            Assert.True(link.IsSuccessStatusCode, $"POST connect-links: {link.StatusCode} {await link.Content.ReadAsStringAsync(ct)}");
            var url = (await link.Content.ReadFromJsonAsync<LinkResponse>(ct))!.Url;
            using var browser = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, CookieContainer = new CookieContainer() })
            {
                BaseAddress = new Uri(broker.BaseUrl),
            };
            var user = new TeslaUser(browser, simulator, () => broker.Output.Split('\n'));
            await user.ConnectAsync(new Uri(url).Segments[^1], Email(i), Password);
        }
    }

    private sealed record LinkResponse(string Url);

    /// <summary>Tesla-shaped plaintext tokens: opaque region-prefixed refresh tokens and JWT access/id tokens.</summary>
    [GeneratedRegex(@"\b(NA|EU)_[0-9a-f]{64}\b|eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]+")]
    public static partial Regex PlaintextToken();
}
