using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Broker.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Broker.Tests.Commands;

/// <summary>
/// POST …/accounts/{id}/vehicles/{vin}/commands/{name} with the real broker and simulator, over Tesla's REST commands (the
/// cars of this seed do not require the Vehicle Command Protocol and no partner key exists, so nothing is signed here;
/// SignedCommandTests covers that): parameters, policy, scopes, idempotency, Tesla's limit, asleep cars, lost answers.
/// </summary>
public sealed class CommandApiTests(PostgresServer postgres) : BrokerTestBase(postgres)
{
    private const string MidnightRunner = "5YJ3E1EA7PF381204"; // alice's car, driving (awake) in the demo fleet

    // Tesla's limit and the broker's count the same minutes.
    protected override bool ShareClockWithSimulator => true;

    [Fact]
    public async Task AChargeLimitIsSentOnceStoredAuditedAndReplayedForItsIdempotencyKey()
    {
        var account = await ConnectAsync();
        using var api = ApiClient(ApiKey);

        var first = await SendAsync(api, account, "set_charge_limit", """{"percent": 85}""", key: "limit-85");
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        var answer = await first.Content.ReadFromJsonAsync<JsonElement>(Ct);
        Assert.True(answer.GetProperty("result").GetBoolean());
        Assert.Equal("ok", answer.GetProperty("outcome").GetString());
        Assert.Equal("rest", answer.GetProperty("channel").GetString());
        Assert.Equal(85, answer.GetProperty("parameters").GetProperty("percent").GetInt32());

        // The car did it: the next reading says so.
        await PollAccountsAsync();
        await using (var db = Broker.CreateDbContext())
        {
            Assert.Equal(85, (await db.VehicleReadings.Join(db.Vehicles.Where(v => v.Vin == MidnightRunner), r => r.VehicleId, v => v.Id, (r, _) => r).SingleAsync(Ct)).ChargeLimitSoc);
        }

        // The same key again: the same answer, and Tesla is not asked a second time.
        var again = await SendAsync(api, account, "set_charge_limit", """{"percent": 85}""", key: "limit-85");
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal("true", again.Headers.GetValues("Idempotent-Replayed").Single());
        Assert.Equal(answer.GetProperty("id").GetGuid(), (await again.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("id").GetGuid());
        Assert.Equal(1, (await SimCallsAsync()).Where(c => c.Category == "command").Sum(c => c.Count));

        // The same key for something else is refused, not silently replayed.
        var reused = await SendAsync(api, account, "set_charge_limit", """{"percent": 90}""", key: "limit-85");
        await AssertProblemAsync(reused, HttpStatusCode.UnprocessableEntity, "idempotency_key_reused");

        await using (var db = Broker.CreateDbContext())
        {
            var audit = await db.AuditEvents.Where(e => e.Action == "command.sent").ToListAsync(Ct);
            var sent = Assert.Single(audit);
            Assert.Contains("set_charge_limit {\"percent\":85}", sent.Detail);
            Assert.Contains(MidnightRunner, sent.Detail);
            Assert.StartsWith("tenant-key:", sent.Actor);
        }
    }

    [Theory]
    [InlineData("unlock_everything", "", "unknown_command", "name")]
    [InlineData("set_charge_limit", """{"percent": 49}""", "invalid_parameters", "percent")]
    [InlineData("set_charge_limit", """{"percent": 101}""", "invalid_parameters", "percent")]
    [InlineData("set_charge_limit", """{"percent": "80"}""", "invalid_parameters", "percent")]
    [InlineData("set_charge_limit", """{"percent": 80.5}""", "invalid_parameters", "percent")]
    [InlineData("set_charge_limit", "{}", "invalid_parameters", "percent")]
    [InlineData("set_charging_amps", """{"charging_amps": 0}""", "invalid_parameters", "charging_amps")]
    [InlineData("set_charging_amps", """{"charging_amps": 17, "volts": 240}""", "invalid_parameters", "volts")]
    [InlineData("charge_start", """{"now": true}""", "invalid_parameters", "now")]
    [InlineData("charge_start", "[1]", "invalid_parameters", "body")]
    [InlineData("charge_start", "{not json", "invalid_body", null)]
    public async Task BadCommandsAndParametersAreA400NamingTheFieldAndReachNoCar(string name, string body, string code, string? field)
    {
        var account = await ConnectAsync();
        using var api = ApiClient(ApiKey);

        var response = await SendAsync(api, account, name, body);

        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest, code);
        if (field is not null)
        {
            Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), $"errors should name {field}: {problem}");
        }
        Assert.DoesNotContain(await SimCallsAsync(), c => c.Category == "command");
    }

    [Theory]
    [InlineData(256)]
    [InlineData(-3)]   // three spaces (an empty header HttpClient does not send; curl's `-H 'Idempotency-Key;'` is refused alike)
    public async Task AnIdempotencyKeyThatIsEmptyBlankOrOver255CharactersIsRefused(int length)
    {
        var account = await ConnectAsync();
        using var api = ApiClient(ApiKey);

        var response = await SendAsync(api, account, "charge_stop", "", key: length >= 0 ? new string('k', length) : new string(' ', -length));

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "invalid_idempotency_key");
        Assert.DoesNotContain(await SimCallsAsync(), c => c.Category == "command");
    }

    [Fact]
    public async Task APolicyNamingNullOrTwiceTheSameCommandIsA400AndThePagesStayUp()
    {
        using var api = ApiClient(ApiKey);

        foreach (var allowed in new[] { "[null]", """["charge_start", "charge_start"]""", "[1]", "\"charge_start\"" })
        {
            using var body = new StringContent($$"""{"wakeAfterSleepMinutes": null, "allowedCommands": {{allowed}}}""", Encoding.UTF8, "application/json");
            var put = await api.PutAsync("/api/v1/policy", body, Ct);
            Assert.True(put.StatusCode == HttpStatusCode.BadRequest, $"{allowed}: {(int)put.StatusCode}");
        }
        Assert.Equal(HttpStatusCode.OK, (await api.GetAsync("/api/v1/accounts", Ct)).StatusCode);
        await ConnectAsync();
    }

    [Fact]
    public async Task ATenantSendsOnlyTheCommandsItsPolicyAllowsChargingByDefault()
    {
        using var api = ApiClient(ApiKey);
        var policy = await api.GetFromJsonAsync<JsonElement>("/api/v1/policy", Ct);
        Assert.Equal(["charge_start", "charge_stop", "set_charging_amps", "set_charge_limit", "charge_port_door_open", "charge_port_door_close"],
            policy.GetProperty("allowedCommands").EnumerateArray().Select(e => e.GetString()!));

        // An unknown name in the policy is a 400 naming the field.
        var bad = await api.PutAsJsonAsync("/api/v1/policy", new { wakeAfterSleepMinutes = (int?)null, allowedCommands = new[] { "honk_horn", "self_destruct" } }, Ct);
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Contains("self_destruct", await bad.Content.ReadAsStringAsync(Ct));

        // Honking allowed: the connect asks for vehicle_cmds, and honking is sent.
        var put = await api.PutAsJsonAsync("/api/v1/policy", new { wakeAfterSleepMinutes = (int?)null, allowedCommands = new[] { "honk_horn" } }, Ct);
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        Assert.Equal(["honk_horn"], (await put.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("allowedCommands").EnumerateArray().Select(e => e.GetString()!));
        var account = await ConnectAsync();
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(api, account, "honk_horn", "")).StatusCode);
        await AssertProblemAsync(await SendAsync(api, account, "charge_stop", ""), HttpStatusCode.Forbidden, "command_not_allowed");

        // Back to the default (allowedCommands left out): charging only, and honking is refused before Tesla hears of it.
        Assert.Equal(HttpStatusCode.OK, (await api.PutAsJsonAsync("/api/v1/policy", new { wakeAfterSleepMinutes = (int?)null }, Ct)).StatusCode);
        var honk = await AssertProblemAsync(await SendAsync(api, account, "honk_horn", ""), HttpStatusCode.Forbidden, "command_not_allowed");
        Assert.Contains("charge_start", honk.GetProperty("allowedCommands").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(1, (await SimCallsAsync()).Where(c => c.Category == "command").Sum(c => c.Count));

        await using var db = Broker.CreateDbContext();
        Assert.Equal(["command.sent", "command.refused", "command.refused"],
            await db.AuditEvents.Where(e => e.Action.StartsWith("command.")).OrderBy(e => e.Id).Select(e => e.Action).ToListAsync(Ct));
    }

    [Fact]
    public async Task AnOwnerWhoGrantedNoCommandScopeGetsA403NamingTheScope()
    {
        var user = NewUser();
        await user.ConnectAsync(LinkToken, "alice@example.com", "alice-demo", ["openid", "offline_access", "vehicle_device_data"]);
        await PollAccountsAsync();
        var account = await AccountIdAsync();
        using var api = ApiClient(ApiKey);

        var problem = await AssertProblemAsync(await SendAsync(api, account, "charge_start", ""), HttpStatusCode.Forbidden, "missing_scope");

        Assert.Equal("vehicle_charging_cmds", problem.GetProperty("missingScope").GetString());
        Assert.DoesNotContain(await SimCallsAsync(), c => c.Category == "command");
    }

    [Fact]
    public async Task AnAsleepCarIsA409AndTheSameKeyMaySendAgainOnceItIsAwake()
    {
        var account = await ConnectAsync();
        using var api = ApiClient(ApiKey);
        await SetCarStateAsync("asleep");

        var asleep = await SendAsync(api, account, "set_charge_limit", """{"percent": 70}""", key: "k-asleep");
        var problem = await AssertProblemAsync(asleep, HttpStatusCode.Conflict, "vehicle_asleep");
        Assert.Contains("wake=true", problem.GetProperty("detail").GetString());

        await SetCarStateAsync("online");
        var awake = await SendAsync(api, account, "set_charge_limit", """{"percent": 70}""", key: "k-asleep");
        Assert.Equal(HttpStatusCode.OK, awake.StatusCode);
        Assert.False(awake.Headers.Contains("Idempotent-Replayed"));
        Assert.Equal("ok", (await awake.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("outcome").GetString());
    }

    [Fact]
    public async Task ALostAnswerIsATimeoutThatTheBrokerNeverSendsAgain()
    {
        var account = await ConnectAsync();
        using var api = ApiClient(ApiKey);
        // The car acts, and the answer is lost on the way back (the simulator replaces it with a 500 after applying it).
        await AddSimFaultAsync(new { path = $"/api/1/vehicles/{MidnightRunner}/command/set_charge_limit", status = 500, afterCommit = true });

        var lost = await SendAsync(api, account, "set_charge_limit", """{"percent": 75}""", key: "k-lost");
        Assert.Equal(HttpStatusCode.OK, lost.StatusCode);
        var answer = await lost.Content.ReadFromJsonAsync<JsonElement>(Ct);
        Assert.False(answer.GetProperty("result").GetBoolean());
        Assert.Equal("timeout", answer.GetProperty("outcome").GetString());
        Assert.Contains("may or may not have acted", answer.GetProperty("reason").GetString());

        // The client retries with its key: the stored timeout, not a second command.
        var retry = await SendAsync(api, account, "set_charge_limit", """{"percent": 75}""", key: "k-lost");
        Assert.Equal("true", retry.Headers.GetValues("Idempotent-Replayed").Single());
        Assert.Equal("timeout", (await retry.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("outcome").GetString());
        Assert.Equal(1, (await SimCallsAsync()).Where(c => c.Category == "command").Sum(c => c.Count));
    }

    [Fact]
    public async Task ThirtyCommandsAMinuteReachACarAndTheThirtyFirstIsA429WithRetryAfter()
    {
        var account = await ConnectAsync();
        using var api = ApiClient(ApiKey);

        for (var i = 0; i < 30; i++)
        {
            // The car is not charging: it refuses charge_stop, and each one still counts at Tesla.
            var sent = await SendAsync(api, account, "charge_stop", "");
            var answer = await sent.Content.ReadFromJsonAsync<JsonElement>(Ct);
            Assert.Equal("rejected", answer.GetProperty("outcome").GetString());
            Assert.Equal("not_charging", answer.GetProperty("reason").GetString());
        }
        var over = await SendAsync(api, account, "charge_stop", "");

        await AssertProblemAsync(over, (HttpStatusCode)429, "rate_limit");
        Assert.InRange(int.Parse(over.Headers.GetValues("Retry-After").Single()), 1, 60);
        Assert.Equal(30, (await SimCallsAsync()).Where(c => c.Category == "command").Sum(c => c.Count));

        // A minute later the car takes commands again.
        Time.Advance(TimeSpan.FromSeconds(61));
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(api, account, "charge_stop", "")).StatusCode);
    }

    private async Task<Guid> ConnectAsync()
    {
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");
        await PollAccountsAsync();
        await ResetSimCallsAsync();
        return await AccountIdAsync();
    }

    private async Task<Guid> AccountIdAsync()
    {
        await using var db = Broker.CreateDbContext();
        return await db.TeslaAccounts.Select(a => a.Id).SingleAsync(Ct);
    }

    private async Task SetCarStateAsync(string state)
    {
        using var control = Simulator.CreateControlClient();
        (await control.PostAsJsonAsync($"/_sim/vehicles/{MidnightRunner}/state", new { state }, Ct)).EnsureSuccessStatusCode();
    }

    private static Task<HttpResponseMessage> SendAsync(HttpClient api, Guid account, string name, string body, string? key = null) =>
        api.SendCommandAsync(account, MidnightRunner, name, body, key);

    private static async Task<JsonElement> AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string code)
    {
        var text = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == status, $"expected {(int)status}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(text).RootElement.Clone();
        Assert.Equal(code, problem.GetProperty("code").GetString());
        return problem;
    }
}
