using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Broker.Partner;
using Broker.Telemetry;
using Broker.Tesla;
using Broker.Tests.Infrastructure;
using Broker.Tokens;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Broker.Tests.Telemetry;

/// <summary>
/// Configuring cars for Fleet Telemetry end to end: the broker signs with its partner key, its Fleet API client sends
/// the JWS, and the simulator checks it against the key registered for the app, car by car.
/// </summary>
public sealed class TelemetryConfigTests(PostgresServer postgres) : BrokerTestBase(postgres)
{
    private const string Domain = "broker.test";
    private const string Alice = "alice@example.com";
    private const string MidnightRunner = "5YJ3E1EA7PF381204";
    private const string Sentinel = "7SAYGDEE5PA114587";

    protected override Dictionary<string, string?> BrokerSettings => new()
    {
        ["Partner:Domain"] = Domain,
        ["Partner:PairingBaseUrl"] = SimulatorHost.AuthBase,
    };

    [Fact]
    public async Task ConfiguredCarAdoptsTheConfigOnceAwakeAndTheConfigCanBeRemoved()
    {
        await ConnectAndPairAsync(MidnightRunner);
        await SetStateAsync(MidnightRunner, "asleep");
        var jws = await SignAsync(TelemetryJwsTests.Config());
        await ResetSimCallsAsync();

        var result = await FleetAsync((fleet, caller) => fleet.ConfigureTelemetryAsync(caller, [MidnightRunner, Sentinel], jws, Ct));

        Assert.Equal(1, result.UpdatedVehicles);
        Assert.Equal([Sentinel], result.SkippedVehicles!.MissingKey!);
        Assert.Empty(result.SkippedVehicles.MaxConfigs!);
        var asleep = await FleetAsync((fleet, caller) => fleet.GetTelemetryConfigAsync(caller, MidnightRunner, Ct));
        Assert.Equal((false, true, false), (asleep.Synced, asleep.KeyPaired, asleep.LimitReached));
        Assert.Equal(("telemetry.broker.test", 443, 1767225600L), (asleep.Config!.Hostname, asleep.Config.Port, asleep.Config.Exp));

        await SetStateAsync(MidnightRunner, "online");
        Assert.True((await FleetAsync((fleet, caller) => fleet.GetTelemetryConfigAsync(caller, MidnightRunner, Ct))).Synced);
        Assert.Empty(await FleetAsync((fleet, caller) => fleet.GetTelemetryErrorsAsync(caller, MidnightRunner, Ct)));

        Assert.Equal(1, await FleetAsync((fleet, caller) => fleet.DeleteTelemetryConfigAsync(caller, MidnightRunner, Ct)));
        var removed = await FleetAsync((fleet, caller) => fleet.GetTelemetryConfigAsync(caller, MidnightRunner, Ct));
        Assert.False(removed.Synced);
        Assert.Null(removed.Config);
        // None of these calls is data, a command or a wake: Tesla publishes no pricing category for them.
        Assert.All(await SimCallsAsync(Alice), c => Assert.Equal("meta", c.Category));
    }

    [Fact]
    public async Task CarsWithoutTheKeyTooOldOrWithEveryConfigSlotTakenAreSkipped()
    {
        await ConnectAndPairAsync(MidnightRunner);
        await AddCarAsync("5YJSA1E26HF000001", new { legacyHardware = true });           // a 2017 Model S
        await AddCarAsync("5YJ3E1EA1NF000002", new { firmwareVersion = "2024.20.9" });   // before 2024.26
        foreach (var app in new[] { "other-app-1", "other-app-2", "other-app-3" })
        {
            using var control = Simulator.CreateControlClient();
            (await control.PutAsJsonAsync($"/_sim/vehicles/{MidnightRunner}/telemetry-configs/{app}",
                new { hostname = $"{app}.test", fields = new { Soc = new { interval_seconds = 60 } } }, Ct)).EnsureSuccessStatusCode();
        }

        var jws = await SignAsync(TelemetryJwsTests.Config());

        var result = await FleetAsync((fleet, caller) => fleet.ConfigureTelemetryAsync(caller,
            [MidnightRunner, Sentinel, "5YJSA1E26HF000001", "5YJ3E1EA1NF000002"], jws, Ct));

        Assert.Equal(0, result.UpdatedVehicles);
        var skipped = result.SkippedVehicles!;
        Assert.Equal([MidnightRunner], skipped.MaxConfigs!);
        Assert.Equal([Sentinel], skipped.MissingKey!);
        Assert.Equal(["5YJSA1E26HF000001"], skipped.UnsupportedHardware!);
        Assert.Equal(["5YJ3E1EA1NF000002"], skipped.UnsupportedFirmware!);
        var full = await FleetAsync((fleet, caller) => fleet.GetTelemetryConfigAsync(caller, MidnightRunner, Ct));
        Assert.Equal((true, true), (full.LimitReached, full.KeyPaired));
        Assert.Null(full.Config);
    }

    [Fact]
    public async Task ATamperedConfigIsRefusedAndOneSignedWithAnotherKeyIsReportedByTheCar()
    {
        await ConnectAndPairAsync(MidnightRunner);
        var jws = await SignAsync(TelemetryJwsTests.Config());
        var parts = jws.Split('.');
        var claims = System.Text.Encoding.UTF8.GetString(System.Buffers.Text.Base64Url.DecodeFromChars(parts[1]));
        var forged = System.Buffers.Text.Base64Url.EncodeToString(System.Text.Encoding.UTF8.GetBytes(claims.Replace("broker.test", "attacker.test")));

        var refused = await Assert.ThrowsAsync<TeslaApiException>(() =>
            FleetAsync((fleet, caller) => fleet.ConfigureTelemetryAsync(caller, [MidnightRunner], $"{parts[0]}.{forged}.{parts[2]}", Ct)));
        Assert.Equal(400, refused.Status);

        // Tesla took a config signed with the wrong key and the car reported it later (teslamotors/fleet-telemetry#303).
        await FleetAsync((fleet, caller) => fleet.ConfigureTelemetryAsync(caller, [MidnightRunner], jws, Ct));
        using var otherKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var accepted = await FleetAsync((fleet, caller) => fleet.ConfigureTelemetryAsync(caller, [MidnightRunner], TelemetryJws.Sign(otherKey, TelemetryJwsTests.Config()), Ct));

        Assert.Equal(1, accepted.UpdatedVehicles);
        Assert.Null((await FleetAsync((fleet, caller) => fleet.GetTelemetryConfigAsync(caller, MidnightRunner, Ct))).Config);
        var error = Assert.Single(await FleetAsync((fleet, caller) => fleet.GetTelemetryErrorsAsync(caller, MidnightRunner, Ct)));
        Assert.Equal(("config_manager_error", "error loading config file: InvalidSignature: unknown issuer", MidnightRunner),
            (error.ErrorName, error.Error, error.Vin));
    }

    /// <summary>The operator's key registered in every region, Alice connected, and the key on one of her cars.</summary>
    private async Task ConnectAndPairAsync(string vin)
    {
        await RegisterPartnerAsync();
        await NewUser().ConnectAsync(LinkToken, Alice, "alice-demo");
        await PairVirtualKeyAsync(vin, Domain);
    }

    /// <summary>The config signed with the operator's current partner key, as the broker will sign it.</summary>
    private async Task<string> SignAsync(JsonObject config)
    {
        await using var scope = Broker.Services.CreateAsyncScope();
        using var key = await scope.ServiceProvider.GetRequiredService<PartnerKeys>().LoadPrivateKeyAsync(Ct);
        return TelemetryJws.Sign(key!, config);
    }

    /// <summary>A Fleet API call for Alice's account with a current access token, as the poller makes them.</summary>
    private async Task<T> FleetAsync<T>(Func<TeslaFleetClient, FleetAccount, Task<T>> call)
    {
        await using var scope = Broker.Services.CreateAsyncScope();
        await using var db = Broker.CreateDbContext();
        var account = await db.TeslaAccounts.SingleAsync(Ct);
        var token = await scope.ServiceProvider.GetRequiredService<TokenRefresher>().GetAccessTokenAsync(account.Id, Ct);
        return await call(scope.ServiceProvider.GetRequiredService<TeslaFleetClient>(), new FleetAccount(account.TenantId, account.Id, account.FleetApiBaseUrl, token));
    }

    private async Task SetStateAsync(string vin, string state)
    {
        using var control = Simulator.CreateControlClient();
        (await control.PostAsJsonAsync($"/_sim/vehicles/{vin}/state", new { state }, Ct)).EnsureSuccessStatusCode();
    }

    /// <summary>A parked car for Alice with the seed's defaults, changed by <paramref name="overrides"/>.</summary>
    private async Task AddCarAsync(string vin, object overrides)
    {
        var car = new JsonObject
        {
            ["id"] = Random.Shared.NextInt64(1, long.MaxValue), ["vehicleId"] = Random.Shared.NextInt64(1, int.MaxValue), ["vin"] = vin,
            ["displayName"] = vin, ["carType"] = "models", ["exteriorColor"] = "Black", ["state"] = "online", ["batteryLevel"] = 70,
            ["chargeLimit"] = 80, ["odometer"] = 1000, ["latitude"] = 37.4, ["longitude"] = -122.1, ["heading"] = 0, ["pluggedIn"] = false,
        };
        foreach (var (name, value) in System.Text.Json.JsonSerializer.SerializeToNode(overrides)!.AsObject()) car[name] = value?.DeepClone();
        using var control = Simulator.CreateControlClient();
        (await control.PostAsJsonAsync($"/_sim/accounts/{Alice}/vehicles", car, Ct)).EnsureSuccessStatusCode();
    }
}
