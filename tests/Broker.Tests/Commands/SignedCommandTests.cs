using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Broker.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Broker.Tests.Commands;

/// <summary>
/// Commands signed with the Vehicle Command Protocol, from the real broker to the simulator playing the car (its own
/// verifier: handshake tag, HMAC, epoch, expiry, counters): the session opened once and kept in Postgres, the car's
/// refusals (unpaired key, a rebooted domain), a lost answer, a car that predates the protocol.
/// </summary>
public sealed class SignedCommandTests(PostgresServer postgres) : BrokerTestBase(postgres)
{
    private const string Domain = "broker.test";
    private const string MidnightRunner = "5YJ3E1EA7PF381204"; // alice's car, driving (awake)
    private const string BlueYonder = "7SAYGDEE5PA114587";     // alice's other car, charging (awake)

    protected override bool ShareClockWithSimulator => true;   // the car's clock and the broker's agree, as in life

    protected override Dictionary<string, string?> BrokerSettings => new()
    {
        ["Partner:Domain"] = Domain,
        ["Partner:PairingBaseUrl"] = SimulatorHost.AuthBase,
        ["Commands:WakePollSeconds"] = "1",
    };

    // A woken car is online 2 s later on the simulated clock (Tesla: 10 to 60 s).
    protected override Dictionary<string, string?> SimulatorSettings => new() { ["Simulator:WakeUpSeconds"] = "2" };

    [Fact]
    public async Task EveryCommandKindReachesTheCarSignedAndTheCarAnswersEachOne()
    {
        var all = new[] { "charge_start", "charge_stop", "set_charging_amps", "set_charge_limit", "charge_port_door_open", "charge_port_door_close",
            "auto_conditioning_start", "auto_conditioning_stop", "door_lock", "door_unlock", "flash_lights", "honk_horn" };
        var account = await ConnectAsync(paired: [MidnightRunner], allowed: [.. all, "wake_up"]);
        using var api = ApiClient(ApiKey);

        foreach (var name in all)
        {
            var body = name switch { "set_charging_amps" => """{"charging_amps": 24}""", "set_charge_limit" => """{"percent": 77}""", _ => "" };
            var answer = await OkAsync(await SendAsync(api, account, MidnightRunner, name, body));
            // The car decides: done, or refused with its reason (a driving car is not plugged in), never a protocol failure.
            Assert.True(answer.GetProperty("outcome").GetString() is "ok" or "rejected", $"{name}: {answer}");
            Assert.Equal("signed", answer.GetProperty("channel").GetString());
        }
        var log = await CarLogAsync(MidnightRunner);
        Assert.Equal(all.Length, log.Count);
        Assert.Equal(2, log.Count(e => e.GetProperty("domain").GetString() == "vcsec"));

        // wake_up is Tesla's own endpoint, billed as a wake.
        await ResetSimCallsAsync();
        var wake = await OkAsync(await SendAsync(api, account, MidnightRunner, "wake_up", ""));
        Assert.Equal(("ok", "rest"), (wake.GetProperty("outcome").GetString(), wake.GetProperty("channel").GetString()));
        Assert.Equal(1, (await SimCallsAsync()).Where(c => c.Category == "wake").Sum(c => c.Count));
    }

    [Fact]
    public async Task WithWakeTrueASleepingCarIsWokenThenCommandedAndWithoutItTheAnswerIs409()
    {
        var account = await ConnectAsync(paired: [MidnightRunner], allowed: ["set_charge_limit", "wake_up"]);
        using var api = ApiClient(ApiKey);
        using (var control = Simulator.CreateControlClient())
        {
            (await control.PostAsJsonAsync($"/_sim/vehicles/{MidnightRunner}/state", new { state = "asleep" }, Ct)).EnsureSuccessStatusCode();
        }

        var asleep = await SendAsync(api, account, MidnightRunner, "set_charge_limit", """{"percent": 71}""");
        Assert.Equal(HttpStatusCode.Conflict, asleep.StatusCode);

        // The car wakes as its clock moves on (the test's clock stands still unless moved): a second per 100 ms meanwhile.
        var sending = SendAsync(api, account, MidnightRunner, "set_charge_limit?wake=true", """{"percent": 71}""");
        while (!sending.IsCompleted)
        {
            await Task.Delay(100, Ct);
            Time.Advance(TimeSpan.FromSeconds(1));
        }
        var woken = await OkAsync(await sending);
        Assert.Equal("ok", woken.GetProperty("outcome").GetString());
        Assert.Equal(1, (await SimCallsAsync()).Where(c => c.Category == "wake").Sum(c => c.Count));
        Assert.Single(await CarLogAsync(MidnightRunner));
    }

    [Fact]
    public async Task ChargingAmpsAreSignedTheSessionIsKeptAndTheNextReadingShowsTheNewAmps()
    {
        var account = await ConnectAsync(paired: [MidnightRunner]);
        using var api = ApiClient(ApiKey);

        var amps = await SendAsync(api, account, MidnightRunner, "set_charging_amps", """{"charging_amps": 16}""");
        var answer = await OkAsync(amps);
        Assert.Equal(("ok", "signed"), (answer.GetProperty("outcome").GetString(), answer.GetProperty("channel").GetString()));
        // A handshake with the infotainment domain, then the command: two calls at Tesla, both billed as commands.
        Assert.Equal(2, await CommandCallsAsync());

        // The broker polled the car at once: its reading has the new amps.
        await PollAccountsAsync();
        Assert.Equal(16, (await ReadingAsync(MidnightRunner)).ChargeCurrentRequest);

        // The session is in Postgres: the next command is one call, with a higher counter.
        await ResetSimCallsAsync();
        await OkAsync(await SendAsync(api, account, MidnightRunner, "set_charge_limit", """{"percent": 70}"""));
        Assert.Equal(1, await CommandCallsAsync());
        var log = await CarLogAsync(MidnightRunner);
        Assert.Equal(2, log.Count);
        Assert.True(log[1].GetProperty("counter").GetUInt32() > log[0].GetProperty("counter").GetUInt32());
        await using var db = Broker.CreateDbContext();
        Assert.Single(await db.CommandSessions.ToListAsync(Ct));
    }

    [Fact]
    public async Task ConcurrentCommandsTakeDistinctCountersAndTheCarAcceptsEveryOne()
    {
        var account = await ConnectAsync(paired: [MidnightRunner]);
        using var api = ApiClient(ApiKey);
        await OkAsync(await SendAsync(api, account, MidnightRunner, "set_charge_limit", """{"percent": 60}"""));

        var answers = await Task.WhenAll(Enumerable.Range(0, 6).Select(i =>
            SendAsync(api, account, MidnightRunner, "set_charge_limit", $$"""{"percent": {{61 + i}}}""")));

        foreach (var a in answers)
        {
            await OkAsync(a);
        }
        var counters = (await CarLogAsync(MidnightRunner)).Select(e => e.GetProperty("counter").GetUInt32()).ToList();
        Assert.Equal(7, counters.Count);
        Assert.Equal(7, counters.Distinct().Count());
    }

    [Fact]
    public async Task ACarWithoutTheKeyIsA403WithThePairingLinkAndTheCarIsMarkedUnpaired()
    {
        var account = await ConnectAsync(paired: [MidnightRunner]);
        using var api = ApiClient(ApiKey);

        var refused = await SendAsync(api, account, BlueYonder, "charge_stop", "");

        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        var problem = await refused.Content.ReadFromJsonAsync<JsonElement>(Ct);
        Assert.Equal("virtual_key_not_paired", problem.GetProperty("code").GetString());
        Assert.Equal($"{SimulatorHost.AuthBase}/_ak/{Domain}?vin={BlueYonder}", problem.GetProperty("pairingUrl").GetString());
        Assert.Empty(await CarLogAsync(BlueYonder));
        await using var db = Broker.CreateDbContext();
        Assert.False((await db.Vehicles.SingleAsync(v => v.Vin == BlueYonder, Ct)).KeyPaired);
    }

    [Fact]
    public async Task AfterTheCarRebootsTheBrokerOpensANewSessionOnceAndTheCommandGoesThrough()
    {
        var account = await ConnectAsync(paired: [MidnightRunner]);
        using var api = ApiClient(ApiKey);
        await OkAsync(await SendAsync(api, account, MidnightRunner, "set_charge_limit", """{"percent": 65}"""));
        using (var control = Simulator.CreateControlClient())
        {
            (await control.PostAsync($"/_sim/vehicles/{MidnightRunner}/domains/infotainment/reboot", null, Ct)).EnsureSuccessStatusCode();
        }
        await ResetSimCallsAsync();

        var answer = await OkAsync(await SendAsync(api, account, MidnightRunner, "set_charge_limit", """{"percent": 66}"""));

        Assert.Equal("ok", answer.GetProperty("outcome").GetString());
        // Refused for its old epoch, a new handshake, the command again.
        Assert.Equal(3, await CommandCallsAsync());
        Assert.Equal(2, (await CarLogAsync(MidnightRunner)).Count(e => e.GetProperty("result").GetString() == "ok"));
    }

    [Fact]
    public async Task ALostSignedAnswerIsATimeoutAndTheCarActsOnce()
    {
        var account = await ConnectAsync(paired: [MidnightRunner]);
        using var api = ApiClient(ApiKey);
        await OkAsync(await SendAsync(api, account, MidnightRunner, "set_charge_limit", """{"percent": 65}"""));
        using (var control = Simulator.CreateControlClient())
        {
            (await control.PostAsJsonAsync($"/_sim/vehicles/{MidnightRunner}/signed-commands/lose-answers", new { count = 1, status = 500 }, Ct)).EnsureSuccessStatusCode();
        }

        var lost = await OkAsync(await SendAsync(api, account, MidnightRunner, "set_charging_amps", """{"charging_amps": 20}""", key: "amps-20"));
        var retried = await SendAsync(api, account, MidnightRunner, "set_charging_amps", """{"charging_amps": 20}""", key: "amps-20");

        Assert.Equal("timeout", lost.GetProperty("outcome").GetString());
        Assert.Equal("true", retried.Headers.GetValues("Idempotent-Replayed").Single());
        Assert.Single(await CarLogAsync(MidnightRunner), e => e.GetProperty("name").GetString()!.Contains("amps", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task LockingGoesToVehicleSecurityWhenThePolicyAllowsIt()
    {
        var account = await ConnectAsync(paired: [MidnightRunner], allowed: ["door_lock", "door_unlock"]);
        using var api = ApiClient(ApiKey);

        var answer = await OkAsync(await SendAsync(api, account, MidnightRunner, "door_unlock", ""));

        Assert.Equal(("ok", "signed"), (answer.GetProperty("outcome").GetString(), answer.GetProperty("channel").GetString()));
        var applied = Assert.Single(await CarLogAsync(MidnightRunner));
        Assert.Contains("vcsec", applied.GetProperty("domain").GetString(), StringComparison.OrdinalIgnoreCase);
        await PollAccountsAsync();
        Assert.False((await ReadingAsync(MidnightRunner)).Locked);
    }

    [Fact]
    public async Task ACarThatPredatesTheProtocolIsAskedOnceSignedThenOverRestFromThenOn()
    {
        var account = await ConnectAsync(paired: [MidnightRunner], protocolRequired: null);
        using (var control = Simulator.CreateControlClient())
        {
            (await control.PutAsJsonAsync($"/_sim/vehicles/{MidnightRunner}/signed-commands", new { supported = false }, Ct)).EnsureSuccessStatusCode();
        }
        using var api = ApiClient(ApiKey);

        var first = await OkAsync(await SendAsync(api, account, MidnightRunner, "set_charge_limit", """{"percent": 72}"""));
        var second = await OkAsync(await SendAsync(api, account, MidnightRunner, "set_charge_limit", """{"percent": 73}"""));

        Assert.Equal(("ok", "rest"), (first.GetProperty("outcome").GetString(), first.GetProperty("channel").GetString()));
        Assert.Equal("rest", second.GetProperty("channel").GetString());
        await using var db = Broker.CreateDbContext();
        Assert.False((await db.Vehicles.SingleAsync(v => v.Vin == MidnightRunner, Ct)).CommandProtocolRequired);
        // The 422 to the first handshake, then two REST commands.
        Assert.Equal(3, await CommandCallsAsync());
    }

    /// <summary>
    /// Partner key registered, alice connected and polled (fleet_status read), the given cars paired. The seed's cars accept
    /// REST; like most cars since 2021 they are marked as requiring the protocol (what fleet_status says of such a car).
    /// </summary>
    private async Task<Guid> ConnectAsync(string[] paired, string[]? allowed = null, bool? protocolRequired = true)
    {
        await RegisterPartnerAsync();
        if (allowed is not null)
        {
            using var admin = ApiClient(ApiKey);
            (await admin.PutAsJsonAsync("/api/v1/policy", new { wakeAfterSleepMinutes = 60, allowedCommands = allowed }, Ct)).EnsureSuccessStatusCode();
        }
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");
        foreach (var vin in paired)
        {
            await PairVirtualKeyAsync(vin, Domain);
        }
        await PollAccountsAsync();
        await using var db = Broker.CreateDbContext();
        await db.Vehicles.ExecuteUpdateAsync(s => s.SetProperty(v => v.CommandProtocolRequired, protocolRequired), Ct);
        await ResetSimCallsAsync();
        return await db.TeslaAccounts.Select(a => a.Id).SingleAsync(Ct);
    }

    private async Task<int> CommandCallsAsync() => (int)(await SimCallsAsync()).Where(c => c.Category == "command").Sum(c => c.Count);

    private async Task<List<JsonElement>> CarLogAsync(string vin)
    {
        using var control = Simulator.CreateControlClient();
        return await control.GetFromJsonAsync<List<JsonElement>>($"/_sim/vehicles/{vin}/signed-commands", Ct) ?? [];
    }

    private async Task<global::Broker.Polling.VehicleReading> ReadingAsync(string vin)
    {
        await using var db = Broker.CreateDbContext();
        return await db.VehicleReadings.Join(db.Vehicles.Where(v => v.Vin == vin), r => r.VehicleId, v => v.Id, (r, _) => r).SingleAsync(Ct);
    }

    private static async Task<JsonElement> OkAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"expected 200, got {(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    private static Task<HttpResponseMessage> SendAsync(HttpClient api, Guid account, string vin, string name, string body, string? key = null) =>
        api.SendCommandAsync(account, vin, name, body, key);
}
