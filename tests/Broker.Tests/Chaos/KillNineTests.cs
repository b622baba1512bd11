using System.Diagnostics;
using System.Net.Http.Json;
using Broker.Accounts;
using Broker.Connect;
using Broker.Tests.Infrastructure;
using Broker.Vault;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace Broker.Tests.Chaos;

/// <summary>
/// The real Broker.dll is killed with SIGKILL at random moments while it refreshes the tokens of many accounts
/// (access tokens live 60 s), and the simulator drops some token answers after it has rotated the refresh token.
/// Afterwards nobody may need a reconnect, every stored refresh token must still work at Tesla, and no plaintext
/// token may be in the database or the broker's output. `bench/Chaos/run.sh` runs the same with more accounts
/// and refreshes (CHAOS_ACCOUNTS, CHAOS_REFRESHES, CHAOS_SEED, CHAOS_REPORT).
/// </summary>
public sealed class KillNineTests(PostgresServer postgres)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private static int Setting(string name, int fallback) => int.TryParse(Environment.GetEnvironmentVariable(name), out var v) ? v : fallback;

    [Fact]
    public async Task KillingTheBrokerDuringRefreshesLosesNoAccountAndNoRefreshToken()
    {
        var accounts = Setting("CHAOS_ACCOUNTS", 8);
        var target = Setting("CHAOS_REFRESHES", 12);
        var seed = Setting("CHAOS_SEED", Random.Shared.Next());
        var random = new Random(seed);
        var context = $"(seed {seed}; rerun with CHAOS_SEED={seed})";
        var dir = Directory.CreateTempSubdirectory("broker-chaos-");
        var started = Stopwatch.StartNew();

        await using var simulator = new SimulatorHost(Loopback(), Loopback(), Loopback())
        {
            Overrides =
            {
                ["Simulator:SeedFile"] = ChaosFleet.WriteSeed(accounts, dir.FullName),
                ["Simulator:AccessTokenLifetimeSeconds"] = "60", // the shortest the simulator allows
                ["Logging:LogLevel:Default"] = "Warning",
            },
        };
        var database = await postgres.CreateDatabaseAsync();
        var settings = BrokerProcess.SettingsFor(database, simulator);
        settings["Tokens__RefreshBeforeExpirySeconds"] = "30";
        settings["Polling__ListIntervalSeconds"] = "5";
        settings["Jobs__IdleWaitSeconds"] = "1";
        settings["Jobs__ClusterCheckinSeconds"] = "2";
        settings["Jobs__ReconcileIntervalSeconds"] = "10";
        settings["Console__ConnectPerMinute"] = "1000";
        await using var broker = new BrokerProcess(settings);
        simulator.RedirectUris.Add($"{broker.BaseUrl}/connect/callback");
        simulator.StartOnRealPort();
        using var control = simulator.CreateControlClient();

        await broker.StartAsync(Ct);
        await ChaosFleet.ConnectAllAsync(broker, simulator, accounts, "chaos", Ct);
        (await control.DeleteAsync("/_sim/calls", Ct)).EnsureSuccessStatusCode(); // from here on, auth calls are refreshes
        var connected = started.Elapsed;

        var (kills, killsInRefresh, lostAnswers) = (0, 0, 0);
        var chaosDeadline = DateTime.UtcNow.AddSeconds(Setting("CHAOS_MAX_SECONDS", 240));
        // Until the target is met or the time is up; either way the checks below run (the target is asserted last).
        while ((await RefreshesAsync(control)).Delivered < target && DateTime.UtcNow < chaosDeadline)
        {
            if (random.NextDouble() < 0.5)
            {
                // Tesla rotates the refresh token, then the answer is lost.
                await AddFaultAsync(control, new { path = "/oauth2/v3/token", status = 502, afterCommit = true });
                lostAnswers++;
            }
            if (random.NextDouble() < 0.3)
            {
                await AddFaultAsync(control, new { path = "/oauth2/v3/token", delayMs = random.Next(500, 2500) }); // a refresh stays open longer
            }
            await Task.Delay(random.Next(2000, 9000), Ct);
            killsInRefresh += await RefreshLockHeldAsync(database) ? 1 : 0;
            broker.Kill();
            kills++;
            await Task.Delay(random.Next(0, 1500), Ct);
            await broker.StartAsync(Ct);
        }
        var chaos = started.Elapsed - connected;

        (await control.DeleteAsync("/_sim/faults", Ct)).EnsureSuccessStatusCode();
        await WaitForEveryAccountToBePolledAsync(control, accounts, context);
        await broker.StopAsync();
        // After the last, graceful stop too: a poll running at that moment keeps its account's trigger.
        var quartz = await JobsAndTriggersPerAccountAsync(database);
        Assert.True(quartz.All(q => q.Jobs == 1 && q.Triggers == 1),
            $"Each account needs one poll job and one trigger {context}: {string.Join(", ", quartz.Where(q => q.Jobs != 1 || q.Triggers != 1))}\n{broker.Tail()}");
        var refreshes = await RefreshesAsync(control);
        var log = Path.Combine(dir.FullName, "broker-output.log");
        await File.WriteAllTextAsync(log, broker.Output, Ct);
        context = $"(seed {seed}; rerun with CHAOS_SEED={seed}; broker output in {log})";
        TestContext.Current.TestOutputHelper?.WriteLine($"chaos: {refreshes.Delivered} refreshes, {kills} kills ({killsInRefresh} during a refresh), "
            + $"{lostAnswers} answers dropped; connect {connected.TotalSeconds:F0} s, chaos {(started.Elapsed - connected).TotalSeconds:F0} s");

        await using var db = PostgresServer.CreateDbContext(database);
        var stored = await db.TeslaAccounts.Select(a => new { a.Id, a.Status, a.Email }).ToListAsync(Ct);
        Assert.Equal(accounts, stored.Count);
        var needsReconnect = stored.Where(a => a.Status != AccountStatus.Active).Select(a => a.Email).ToList();
        Assert.True(needsReconnect.Count == 0, $"Accounts no longer active: {string.Join(", ", needsReconnect)} {context}\n{broker.Tail()}");

        var vault = new TokenVault([("test-1", Convert.FromBase64String(BrokerApplication.VaultKey))]);
        var plaintext = new List<string>();
        var lost = new List<string>();
        foreach (var token in await db.TeslaTokens.ToListAsync(Ct))
        {
            var refresh = vault.Decrypt(token.RefreshTokenCipher!, TokenContext.Refresh(token.AccountId));
            plaintext.AddRange([refresh, vault.Decrypt(token.AccessTokenCipher, TokenContext.Access(token.AccountId))]);
            var answer = await control.PostAsync("/oauth2/v3/token", new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["grant_type"] = "refresh_token", ["client_id"] = SimulatorHost.ClientId, ["refresh_token"] = refresh,
            }), Ct);
            if (!answer.IsSuccessStatusCode)
            {
                lost.Add($"{stored.Single(a => a.Id == token.AccountId).Email}: {(int)answer.StatusCode} {await answer.Content.ReadAsStringAsync(Ct)}");
            }
        }
        Assert.True(lost.Count == 0, $"Stored refresh tokens Tesla no longer accepts {context}:\n{string.Join('\n', lost)}");


        var dump = await PostgresServer.PlainDumpAsync(database, Ct);
        Assert.True(plaintext.Count == 2 * accounts && !plaintext.Any(dump.Contains) && !ChaosFleet.PlaintextToken().IsMatch(dump),
            $"A plaintext token is in pg_dump {context}: {ChaosFleet.PlaintextToken().Match(dump).Value[..Math.Min(12, ChaosFleet.PlaintextToken().Match(dump).Length)]}…");
        var output = broker.Output;
        Assert.True(!plaintext.Any(output.Contains) && !ChaosFleet.PlaintextToken().IsMatch(output), $"A plaintext token is in the broker's output {context}");

        var figures = $"| {accounts} | {refreshes.Delivered} | {refreshes.Lost} | {kills} | {killsInRefresh} | {lostAnswers} | 0 | 0 | 0 | {chaos.TotalSeconds:F0} s | {seed} |";
        TestContext.Current.TestOutputHelper?.WriteLine("chaos: " + figures);
        if (Environment.GetEnvironmentVariable("CHAOS_REPORT") is { Length: > 0 } report)
        {
            await File.WriteAllTextAsync(report, figures + "\n", Ct);
        }
        Assert.True(refreshes.Delivered >= target, $"{refreshes.Delivered} refreshes, wanted {target} {context}");
        Assert.True(kills >= 3, $"Only {kills} kills: the run proves little {context}");
        dir.Delete(recursive: true);
    }

    private static string Loopback() => $"http://127.0.0.1:{PostgresServer.FreePort()}";

    private static async Task AddFaultAsync(HttpClient control, object fault) =>
        (await control.PostAsJsonAsync("/_sim/faults", fault, Ct)).EnsureSuccessStatusCode();

    private static async Task<List<BrokerTestBase.SimCall>> CallsAsync(HttpClient control) =>
        (await control.GetFromJsonAsync<BrokerTestBase.SimLedger>("/_sim/calls", Ct))!.Calls;

    /// <summary>Refreshes Tesla answered (200) and those it rotated but whose answer was dropped (the injected 502s).</summary>
    private static async Task<(long Delivered, long Lost)> RefreshesAsync(HttpClient control)
    {
        var auth = (await CallsAsync(control)).Where(c => c.Category == "auth").ToList();
        return (auth.Where(c => c.Status == 200).Sum(c => c.Count), auth.Where(c => c.Status == 502).Sum(c => c.Count));
    }

    /// <summary>After the last start every account's cars are listed successfully again (which needs a working token).</summary>
    private static async Task WaitForEveryAccountToBePolledAsync(HttpClient control, int accounts, string context)
    {
        long Polls(List<BrokerTestBase.SimCall> calls, string email) =>
            calls.Where(c => c.Account == email && c.Category == "meta" && c.Status == 200).Sum(c => c.Count);
        var before = await CallsAsync(control);
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (true)
        {
            var now = await CallsAsync(control);
            var waiting = Enumerable.Range(0, accounts).Select(ChaosFleet.Email).Where(e => Polls(now, e) <= Polls(before, e)).ToList();
            if (waiting.Count == 0)
            {
                return;
            }
            Assert.True(DateTime.UtcNow < deadline, $"Not polled after the chaos: {string.Join(", ", waiting)} {context}");
            await Task.Delay(500, Ct);
        }
    }

    /// <summary>True when some session holds a token row lock: a refresh is waiting for Tesla's answer.</summary>
    private static async Task<bool> RefreshLockHeldAsync(string database)
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync(Ct);
        await using var query = new NpgsqlCommand(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
            + "AND state LIKE 'idle in transaction%' AND query ILIKE '%tesla_tokens%FOR UPDATE%'", connection);
        return (long)(await query.ExecuteScalarAsync(Ct))! > 0;
    }

    private static async Task<List<(string Job, long Jobs, long Triggers)>> JobsAndTriggersPerAccountAsync(string database)
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync(Ct);
        await using var query = new NpgsqlCommand(
            "SELECT 'poll-' || replace(a.id::text, '-', ''), "
            + "(SELECT count(*) FROM qrtz_job_details j WHERE j.job_group = 'accounts' AND j.job_name = 'poll-' || replace(a.id::text, '-', '')), "
            // the account's own trigger; Quartz's recovery triggers (group RECOVERING_JOBS) come and go after a kill
            + "(SELECT count(*) FROM qrtz_triggers t WHERE t.trigger_group = 'accounts' AND t.job_name = 'poll-' || replace(a.id::text, '-', '')) "
            + "FROM tesla_accounts a", connection);
        await using var reader = await query.ExecuteReaderAsync(Ct);
        var rows = new List<(string, long, long)>();
        while (await reader.ReadAsync(Ct))
        {
            rows.Add((reader.GetString(0), reader.GetInt64(1), reader.GetInt64(2)));
        }
        return rows;
    }
}
