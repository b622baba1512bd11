using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using Bench;
using Broker.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace FleetScale;

/// <summary>
/// dotnet run -c Release --project bench/FleetScale -- --vehicles 10000 --accounts 2000 --hours 2 --speed 4
/// Connects every account through the real OAuth flow (at real speed), sets a mix of driving, charging,
/// parked and asleep cars, then runs the broker's polling for --hours simulated hours at --speed× real time.
/// </summary>
internal static class FleetScaleProgram
{
    public static async Task<int> Main(string[] args)
    {
        if (args is ["--serve-simulator", ..])
        {
            return await SimulatorProcess.ServeAsync(args);
        }
        var (vehicles, accounts) = (Arg(args, "--vehicles", 10_000), Arg(args, "--accounts", 2_000));
        var (hours, speed, warmup) = (Arg(args, "--hours", 2.0), Arg(args, "--speed", 4.0), TimeSpan.FromMinutes(Arg(args, "--warmup-minutes", 10.0)));
        var parallel = (int)Arg(args, "--connect-parallel", 8);
        Hosting.PointAtSources();

        var dir = Directory.CreateTempSubdirectory("broker-fleetscale-");
        var seedFile = Path.Combine(dir.FullName, "seed.json");
        var cars = ScaleSeed.Write(seedFile, (int)accounts, (int)vehicles, SimulatorProcess.ClientId, SimulatorProcess.Secret, [SimulatorProcess.RedirectUri]);
        await using var postgres = await LocalPostgres.StartAsync();
        var cs = postgres.ConnectionString("broker_fleetscale");
        await Hosting.MigrateAsync(cs);

        var clock = new ScaledClock(DateTimeOffset.UtcNow);
        await using var sim = await SimulatorProcess.StartAsync(seedFile, clock.GetUtcNow());
        await using var broker = new ScaleBroker(cs, sim, clock);
        var wall = Stopwatch.StartNew();
        var ids = await broker.ConnectAllAsync((int)accounts, parallel, n => { if (n % 100 == 0) Console.Error.WriteLine($"{n} accounts connected"); });
        var connectSeconds = wall.Elapsed.TotalSeconds;
        var connectedVehicles = await CountVehiclesAsync(broker);
        if (ids.Count != accounts || connectedVehicles != vehicles)
        {
            throw new InvalidOperationException($"Connected {ids.Count} accounts with {connectedVehicles} vehicles; expected {accounts} and {vehicles}.");
        }
        Console.Error.WriteLine($"{ids.Count} accounts, {connectedVehicles} vehicles connected in {connectSeconds:F0} s");

        using var control = sim.Client();
        var script = Fleet.Script(cars, hours, new Random(60));
        await Fleet.ApplyAsync(control, script.Initial, parallel);
        (await control.DeleteAsync("/_sim/calls")).EnsureSuccessStatusCode(); // connect-time calls are not the fleet's running cost
        var sizeBefore = await DatabaseSizeAsync(cs);
        var peakReset = Memory.ResetPeak();
        var (cpuBefore, simCpuBefore) = (Process.GetCurrentProcess().TotalProcessorTime, sim.Cpu);

        var wallAt = DateTimeOffset.UtcNow.AddSeconds(2);
        var start = clock.Accelerate(wallAt, speed);
        await sim.AccelerateAsync(wallAt, speed);
        await Task.Delay(wallAt - DateTimeOffset.UtcNow);
        var measured = Stopwatch.StartNew();
        var until = start.AddHours(hours);
        var random = new Random(61);
        var firstDue = ids.ToDictionary(id => id, _ => start.AddSeconds(random.NextDouble() * 60)); // connected over the minute before
        var scripting = Fleet.PlayAsync(control, clock, start, until, script.Events);
        // The first polls create every car's reading row once; growth per day is measured after them.
        var sizeAfterWarmup = Task.Run(async () =>
        {
            await Task.Delay((start + warmup - clock.GetUtcNow()) / speed);
            return (At: clock.GetUtcNow(), Bytes: await DatabaseSizeAsync(cs));
        });
        await broker.RunPollsAsync(firstDue, until);
        var scriptLate = await scripting;
        var wallSeconds = measured.Elapsed.TotalSeconds;

        var cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalSeconds;
        var simCpu = (sim.Cpu - simCpuBefore).TotalSeconds;
        var peakRss = Memory.PeakRssBytes(Environment.ProcessId);
        var rssNow = Memory.RssBytes(Environment.ProcessId);
        var sizeAfter = await DatabaseSizeAsync(cs);
        var warmSize = await sizeAfterWarmup;
        var grewHours = (until - warmSize.At).TotalHours;
        var ledger = (await control.GetFromJsonAsync<Ledger>("/_sim/calls"))!;

        var lags = broker.Lags.Where(l => l.Due >= start + warmup).Select(l => l.LagSeconds).Order().ToList();
        var warm = broker.Lags.Where(l => l.Due < start + warmup).Select(l => l.LagSeconds).Order().ToList();
        var priced = ledger.Calls.Where(c => c.Billable && c.Category is "data" or "wake" or "command").ToList();
        var cost = ledger.Calls.Sum(c => c.Cost);
        var vehicleDays = vehicles * hours / 24;
        var mb = 1024.0 * 1024.0;
        var up = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : "?";
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"""
            FleetScale: {vehicles:N0} vehicles, {accounts:N0} accounts, {hours} simulated h at {speed}x ({wallSeconds:F0} s wall), load average at the end {up}
            connect: {accounts:N0} OAuth flows, {parallel} at a time, {connectSeconds:F0} s
            polls: {broker.Lags.Count:N0} account polls ({broker.Lags.Count / hours:N0} per simulated h), {broker.Errors} failed, {broker.NotStarted} due but not started at the end (oldest {broker.NotStartedMaxLagSeconds:F0} s late); state changes played late by the script: {scriptLate}
            | poll lag (simulated s) after the first {warmup.TotalMinutes:F0} min | p50 {ConnectFlow.Percentile(lags, 0.5):F2} | p99 {ConnectFlow.Percentile(lags, 0.99):F2} | max {(lags.Count > 0 ? lags[^1] : double.NaN):F2} | n {lags.Count:N0} |
            | poll lag (simulated s) in the first {warmup.TotalMinutes:F0} min (every account due at once) | p50 {ConnectFlow.Percentile(warm, 0.5):F2} | p99 {ConnectFlow.Percentile(warm, 0.99):F2} | max {(warm.Count > 0 ? warm[^1] : double.NaN):F2} | n {warm.Count:N0} |
            | broker CPU | {cpu:F0} s = {cpu / hours:F0} s per simulated h = {cpu / hours / 3600 * 100:F1} % of one core at 1x; {cpu / wallSeconds * 100:F0} % of one core during the run |
            | simulator CPU (child process) | {simCpu:F0} s = {simCpu / hours:F0} s per simulated h |
            | broker RSS | peak {peakRss / mb:F0} MiB {(peakReset ? "during the polling stretch" : "since start (VmHWM reset not allowed)")}, {rssNow / mb:F0} MiB at the end |
            | Postgres database | {sizeBefore / mb:F1} MiB before polling, {warmSize.Bytes / mb:F1} MiB after the first {warmup.TotalMinutes:F0} min (first readings), {sizeAfter / mb:F1} MiB at the end: +{(sizeAfter - warmSize.Bytes) / mb:F1} MiB in {grewHours:F2} h = {(sizeAfter - warmSize.Bytes) / mb / grewHours * 24:F0} MiB per simulated day |
            | billable calls (priced, status < 500) | {priced.Sum(c => c.Count):N0}: vehicle_data {priced.Where(c => c.Category == "data").Sum(c => c.Count):N0}, wakes {priced.Where(c => c.Category == "wake").Sum(c => c.Count):N0}, commands {priced.Where(c => c.Category == "command").Sum(c => c.Count):N0}; ${cost:F2} = ${cost / (decimal)vehicleDays:F3} per vehicle-day |
            | other calls | auth 200 (token refreshes) {ledger.Calls.Where(c => c.Category == "auth" && c.Status == 200).Sum(c => c.Count):N0}; free (list, energy) {ledger.Calls.Where(c => c.Category is "meta" or "energy").Sum(c => c.Count):N0}; statuses other than 200/408: {Others(ledger)} |
            """));
        Directory.Delete(dir.FullName, recursive: true);
        return 0;
    }

    private static string Others(Ledger ledger) =>
        string.Join(", ", ledger.Calls.Where(c => c.Status is not (200 or 408)).GroupBy(c => $"{c.Category} {c.Status}").Select(g => $"{g.Key}: {g.Sum(c => c.Count)}")) is { Length: > 0 } o ? o : "none";

    private static async Task<int> CountVehiclesAsync(ScaleBroker broker)
    {
        await using var scope = broker.Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<BrokerDbContext>().Vehicles.CountAsync();
    }

    private static async Task<long> DatabaseSizeAsync(string cs)
    {
        await using var connection = new Npgsql.NpgsqlConnection(cs);
        await connection.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand("select pg_database_size(current_database())", connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static double Arg(string[] args, string name, double fallback) =>
        Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? double.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;

    public sealed record Ledger(List<LedgerRow> Calls);
    public sealed record LedgerRow(string Account, string Device, string Category, int Status, long Count, bool Billable, decimal Cost);
}
