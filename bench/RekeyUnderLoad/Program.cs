using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using Bench;
using Broker.Accounts;
using Broker.Connect;
using Broker.Data;
using Broker.Tenants;
using Broker.Vault;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace RekeyUnderLoad;

/// <summary>
/// dotnet run -c Release --project bench/RekeyUnderLoad -- --accounts 5000 --refreshers 4 --tesla-ms 150
/// Token rows sealed under an old key; refreshers lock a random row, wait as long as Tesla's token
/// endpoint takes, write a fresh pair under the new key (TokenRefresher's pattern, without Tesla); then
/// `vault rekey` (the real RekeyCommand) runs beside them. Reports its time and what refreshes waited.
/// </summary>
internal static class RekeyUnderLoadProgram
{
    public static async Task<int> Main(string[] args)
    {
        var accounts = Arg(args, "--accounts", 5000);
        var refreshers = Arg(args, "--refreshers", 4);
        var teslaMs = Arg(args, "--tesla-ms", 150);
        await using var postgres = await LocalPostgres.StartAsync();
        var cs = postgres.ConnectionString("broker_rekey");
        await Hosting.MigrateAsync(cs);
        (string, byte[]) oldKey = ("old", RandomNumberGenerator.GetBytes(32)), newKey = ("new", RandomNumberGenerator.GetBytes(32));
        var ids = await SeedAsync(cs, accounts, new TokenVault([oldKey]));

        var services = new ServiceCollection()
            .AddDbContext<BrokerDbContext>(o => o.UseNpgsql(cs).UseSnakeCaseNamingConvention())
            .AddSingleton(new TokenVault([oldKey, newKey]))
            .AddSingleton(TimeProvider.System)
            .BuildServiceProvider();
        var vault = services.GetRequiredService<TokenVault>();

        var baseline = await RefreshForAsync(TimeSpan.FromSeconds(10), refreshers, teslaMs, ids, cs, vault, null);
        var rekeyWatch = Stopwatch.StartNew();
        var rekey = Task.Run(async () => { await RekeyCommand.RunAsync(services); rekeyWatch.Stop(); });
        var during = await RefreshForAsync(null, refreshers, teslaMs, ids, cs, vault, rekey);

        await using var db = Context(cs);
        var left = await db.TeslaTokens.CountAsync(t => t.KeyId != "new");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {accounts:N0} | {refreshers} × {teslaMs} ms | {rekeyWatch.Elapsed.TotalSeconds:F1} s | {accounts / rekeyWatch.Elapsed.TotalSeconds:F0} rows/s | " +
            $"{Line(baseline)} | {Line(during)} | {left} |"));
        return left == 0 ? 0 : 1;
    }

    private static string Line(List<double> waits) =>
        waits.Count == 0 ? "–" : string.Create(CultureInfo.InvariantCulture, $"{waits.Count} refreshes, lock wait p50 {Pct(waits, 0.5):F1} / p99 {Pct(waits, 0.99):F1} / max {waits.Max():F1} ms");

    /// <summary>Refreshers run for a fixed time, or until <paramref name="until"/> completes; returns each refresh's lock wait (ms).</summary>
    private static async Task<List<double>> RefreshForAsync(TimeSpan? time, int workers, int teslaMs, Guid[] ids, string cs, TokenVault vault, Task? until)
    {
        var waits = new ConcurrentBag<double>();
        using var stop = new CancellationTokenSource();
        if (time is { } t) stop.CancelAfter(t);
        var tasks = Enumerable.Range(0, workers).Select(w => Task.Run(async () =>
        {
            var random = new Random(w);
            while (!stop.IsCancellationRequested)
            {
                var id = ids[random.Next(ids.Length)];
                await using var db = Context(cs);
                await using var tx = await db.Database.BeginTransactionAsync();
                var started = Stopwatch.GetTimestamp();
                var token = await db.TeslaTokens.FromSql($"SELECT * FROM tesla_tokens WHERE account_id = {id} FOR UPDATE").SingleAsync();
                waits.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                vault.Decrypt(token.RefreshTokenCipher!, TokenContext.Refresh(id)); // the refresh token goes to Tesla
                await Task.Delay(teslaMs);                                            // Tesla answers
                token.AccessTokenCipher = vault.Encrypt(Convert.ToHexString(RandomNumberGenerator.GetBytes(32)), TokenContext.Access(id));
                token.RefreshTokenCipher = vault.Encrypt("NA_" + Convert.ToHexString(RandomNumberGenerator.GetBytes(32)), TokenContext.Refresh(id));
                token.KeyId = vault.CurrentKeyId;
                token.UpdatedAt = DateTimeOffset.UtcNow;
                await db.SaveChangesAsync();
                await tx.CommitAsync();
            }
        })).ToList();
        if (until is not null)
        {
            await until;
            stop.Cancel();
        }
        await Task.WhenAll(tasks);
        return [.. waits];
    }

    private static async Task<Guid[]> SeedAsync(string cs, int accounts, TokenVault vault)
    {
        var now = DateTimeOffset.UtcNow;
        var ids = new List<Guid>();
        for (var first = 0; first < accounts; first += 500)
        {
            await using var db = Context(cs);
            var tenant = new Tenant { Slug = $"tenant-{first:D6}", Name = $"Tenant {first}", CreatedAt = now };
            db.Add(tenant);
            for (var a = first; a < Math.Min(accounts, first + 500); a++)
            {
                var account = new TeslaAccount
                {
                    TenantId = tenant.Id, Subject = Guid.NewGuid().ToString(), Region = "na", FleetApiBaseUrl = "https://fleet-api.prd.na.vn.cloud.tesla.com",
                    Status = AccountStatus.Active, ConnectedAt = now, UpdatedAt = now,
                };
                db.Add(account);
                db.Add(new TeslaToken
                {
                    AccountId = account.Id, KeyId = vault.CurrentKeyId, AccessTokenExpiresAt = now.AddHours(8), UpdatedAt = now,
                    AccessTokenCipher = vault.Encrypt(new string('a', 1180), TokenContext.Access(account.Id)), // a Tesla access JWT is ~1,180 characters
                    RefreshTokenCipher = vault.Encrypt("NA_" + Convert.ToHexString(RandomNumberGenerator.GetBytes(32)), TokenContext.Refresh(account.Id)),
                });
                ids.Add(account.Id);
            }
            await db.SaveChangesAsync();
        }
        return [.. ids];
    }

    private static BrokerDbContext Context(string cs) =>
        new(new DbContextOptionsBuilder<BrokerDbContext>().UseNpgsql(cs).UseSnakeCaseNamingConvention().Options);

    private static double Pct(List<double> values, double p)
    {
        var sorted = values.Order().ToList();
        return sorted[Math.Max(0, (int)Math.Ceiling(p * sorted.Count) - 1)];
    }

    private static int Arg(string[] args, string name, int fallback) =>
        Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
}
