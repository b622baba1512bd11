using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using static TeslaSimulator.Tests.SimulatorApp;

namespace TeslaSimulator.Tests;

public sealed partial class VirtualKeyTests
{
    private const string Domain = "broker.example.com";
    private const string Page = "/_ak/" + Domain;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<SimulatorApp> RegisteredAsync()
    {
        var app = new SimulatorApp();
        app.PublishKey(Domain);
        Assert.Equal(HttpStatusCode.OK, (await RegisterAsync(await app.PartnerAsync(ct: Ct), Domain, Ct)).StatusCode);
        return app;
    }

    private static async Task<JsonNode> FleetStatusAsync(HttpClient fleet, params string[] vins) =>
        (await Json(await fleet.PostAsync("/api/1/vehicles/fleet_status",
            new StringContent(JsonSerializer.Serialize(new { vins }), Encoding.UTF8, "application/json"), Ct), Ct))["response"]!;

    private static string[] Vins(JsonNode status, string list) => [.. status[list]!.AsArray().Select(v => (string)v!)];

    private static async Task<(HttpStatusCode Status, string Html)> SignInAsync(HttpClient browser, string email, string password, string filter = "")
    {
        var response = await PostFormAsync(browser, Page, Ct, ("filter", filter), ("identity", email), ("credential", password), ("action", "login"));
        return (response.StatusCode, await response.Content.ReadAsStringAsync(Ct));
    }

    [Fact]
    public async Task OwnerAddsTheKeyOnThePairingPageAndFleetStatusReportsThatCarPaired()
    {
        await using var app = await RegisteredAsync();
        var fleet = app.Fleet((string)(await app.TokensAsync(Alice, ct: Ct))["access_token"]!);
        var browser = app.Client();

        var signIn = await browser.GetStringAsync(Page, Ct);
        Assert.Contains($"action=\"{Page}\"", signIn);
        Assert.DoesNotContain("<script", signIn);
        var (status, cars) = await SignInAsync(browser, Alice, "alice-demo");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains(AliceDriving, cars);
        Assert.Contains(AliceCharging, cars);
        Assert.Equal(2, Regex.Matches(cars, ">Add key<").Count);

        var added = await PostFormAsync(browser, Page, Ct, ("session", Session(cars)), ("filter", ""), ("vin", AliceDriving), ("action", "add"));
        var page = await added.Content.ReadAsStringAsync(Ct);
        Assert.Equal(HttpStatusCode.OK, added.StatusCode);
        Assert.Contains("Key added to Midnight Runner.", page);
        Assert.Single(Regex.Matches(page, ">Add key<"));

        var fleetStatus = await FleetStatusAsync(fleet, AliceDriving, AliceCharging);
        Assert.Equal([AliceDriving], Vins(fleetStatus, "key_paired_vins"));
        Assert.Equal([AliceCharging], Vins(fleetStatus, "unpaired_vins"));
        var telemetry = await Json(await fleet.GetAsync($"/api/1/vehicles/{AliceDriving}/fleet_telemetry_config", Ct), Ct);
        Assert.True((bool)telemetry["response"]!["key_paired"]!);
        var state = await app.Client().GetStringAsync("/_sim/state", Ct);
        Assert.Contains($"\"virtualKeys\":[{{\"domain\":\"{Domain}\"", state);
    }

    [Fact]
    public async Task VinLinkOffersOnlyThatCar()
    {
        await using var app = await RegisteredAsync();
        await app.TokensAsync(Alice, ct: Ct);
        var browser = app.Client();
        Assert.Contains($"name=\"filter\" value=\"{AliceCharging}\"", await browser.GetStringAsync($"{Page}?vin={AliceCharging}", Ct));
        var (_, cars) = await SignInAsync(browser, Alice, "alice-demo", AliceCharging);
        Assert.Contains(AliceCharging, cars);
        Assert.DoesNotContain(AliceDriving, cars);
    }

    [Fact]
    public async Task PairingIsRefusedWhenTheDomainIsNotRegisteredInTheOwnersRegion()
    {
        await using var app = await RegisteredAsync(); // registered on the NA host only; Bob lives in the EU
        await app.TokensAsync(Bob, ct: Ct);
        var (status, page) = await SignInAsync(app.Client(), Bob, "bob-demo");
        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.Contains("application has not registered with Tesla", page);
        Assert.DoesNotContain(">Add key<", page);
    }

    [Fact]
    public async Task PairingIsRefusedUntilTheOwnerHasAuthorizedTheApp()
    {
        await using var app = await RegisteredAsync();
        var (status, page) = await SignInAsync(app.Client(), Alice, "alice-demo");
        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.Contains("user has not granted this third-party app access", page);
    }

    [Fact]
    public async Task WrongPasswordShowsTheSignInFormAgain()
    {
        await using var app = await RegisteredAsync();
        var (_, page) = await SignInAsync(app.Client(), Alice, "nope");
        Assert.Contains("The email or password you entered is incorrect.", page);
        Assert.Contains("name=\"credential\"", page);
    }

    [Fact]
    public async Task PairingFailsOnceTheKeyIsNoLongerHosted()
    {
        await using var app = await RegisteredAsync();
        await app.TokensAsync(Alice, ct: Ct);
        var browser = app.Client();
        var (_, cars) = await SignInAsync(browser, Alice, "alice-demo");
        app.Web.Clear();

        var added = await PostFormAsync(browser, Page, Ct, ("session", Session(cars)), ("vin", AliceDriving), ("action", "add"));
        var page = await added.Content.ReadAsStringAsync(Ct);
        Assert.Equal(HttpStatusCode.Conflict, added.StatusCode);
        Assert.Contains("application has not registered with Tesla", page);
        Assert.Contains("Public key download failed", page);
    }

    [Fact]
    public async Task ControlEndpointPairsAndUnpairsAKey()
    {
        await using var app = await RegisteredAsync();
        var fleet = app.Fleet((string)(await app.TokensAsync(Alice, ct: Ct))["access_token"]!);

        var paired = await app.SimPostAsync($"/_sim/vehicles/{AliceCharging}/virtual-key", new { domain = Domain, paired = true }, Ct);
        Assert.Equal(HttpStatusCode.OK, paired.StatusCode);
        Assert.Equal(Domain, (string?)(await Json(paired, Ct))["virtualKeys"]![0]!["domain"]);
        Assert.Equal([AliceCharging], Vins(await FleetStatusAsync(fleet, AliceCharging), "key_paired_vins"));

        var removed = await app.SimPostAsync($"/_sim/vehicles/{AliceCharging}/virtual-key", new { domain = Domain, paired = false }, Ct);
        Assert.Equal(HttpStatusCode.OK, removed.StatusCode);
        Assert.Equal([AliceCharging], Vins(await FleetStatusAsync(fleet, AliceCharging), "unpaired_vins"));

        Assert.Equal(HttpStatusCode.BadRequest, (await app.SimPostAsync($"/_sim/vehicles/{AliceCharging}/virtual-key", new { domain = "other.example.com", paired = true }, Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await app.SimPostAsync($"/_sim/vehicles/{BobAsleep}/virtual-key", new { domain = Domain, paired = true }, Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await app.SimPostAsync("/_sim/vehicles/NOSUCHVIN/virtual-key", new { domain = Domain, paired = true }, Ct)).StatusCode);
    }

    [Fact]
    public async Task ANewlyRegisteredKeyLeavesCarsHoldingTheOldKeyUnpaired()
    {
        await using var app = await RegisteredAsync();
        var fleet = app.Fleet((string)(await app.TokensAsync(Alice, ct: Ct))["access_token"]!);
        await app.SimPostAsync($"/_sim/vehicles/{AliceDriving}/virtual-key", new { domain = Domain, paired = true }, Ct);
        Assert.Equal([AliceDriving], Vins(await FleetStatusAsync(fleet, AliceDriving), "key_paired_vins"));

        app.PublishKey(Domain);
        Assert.Equal(HttpStatusCode.OK, (await RegisterAsync(await app.PartnerAsync(ct: Ct), Domain, Ct)).StatusCode);
        Assert.Equal([AliceDriving], Vins(await FleetStatusAsync(fleet, AliceDriving), "unpaired_vins"));
    }

    [Fact]
    public async Task RevokingTheAppsAccessRemovesItsKeyFromTheOwnersCars()
    {
        await using var app = await RegisteredAsync();
        await app.TokensAsync(Alice, ct: Ct);
        await app.SimPostAsync($"/_sim/vehicles/{AliceDriving}/virtual-key", new { domain = Domain, paired = true }, Ct);
        await app.SimPostAsync($"/_sim/accounts/{Alice}/revoke-consent", null, Ct);

        var fleet = app.Fleet((string)(await app.TokensAsync(Alice, ct: Ct))["access_token"]!);
        Assert.Equal([AliceDriving], Vins(await FleetStatusAsync(fleet, AliceDriving), "unpaired_vins"));
    }

    private static string Session(string html) => SessionField().Match(html) is { Success: true } m ? m.Groups[1].Value
        : throw new InvalidOperationException("No session in page: " + html);

    [GeneratedRegex("name=\"session\" value=\"([^\"]+)\"")]
    private static partial Regex SessionField();
}
