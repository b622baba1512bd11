using System.Collections.Concurrent;
using System.Security.Cryptography;
using Bench;
using Broker.Data;
using Broker.Jobs;
using Broker.Polling;
using Broker.Tenants;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FleetScale;

/// <summary>
/// The broker with default polling options on its own database, its Tesla clients on the simulator
/// process, its clock the shared <see cref="ScaledClock"/>. Quartz is off: <see cref="RunPollsAsync"/>
/// fires each account's poll when it is due, as the account's Quartz trigger would, with at most
/// Jobs:MaxConcurrency polls at once (Quartz's thread pool).
/// </summary>
public sealed class ScaleBroker(string connectionString, SimulatorProcess simulator, ScaledClock clock) : WebApplicationFactory<Program>
{
    public sealed record PollLag(DateTimeOffset Due, double LagSeconds);

    public ConcurrentBag<PollLag> Lags { get; } = [];
    public int Errors;
    public int NotStarted;
    public double NotStartedMaxLagSeconds;

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Bench");
        foreach (var (k, v) in new Dictionary<string, string>
        {
            ["ConnectionStrings:Broker"] = connectionString,
            ["Database:MigrateOnStart"] = "false",
            ["Vault:Keys:0:Id"] = "bench-1",
            ["Vault:Keys:0:Key"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)),
            ["Tesla:ClientId"] = SimulatorProcess.ClientId,
            ["Tesla:ClientSecret"] = SimulatorProcess.Secret,
            ["Tesla:AuthBaseUrl"] = SimulatorProcess.AuthBase,
            ["Tesla:TokenEndpoint"] = SimulatorProcess.AuthBase + "/oauth2/v3/token",
            ["Tesla:Regions:na"] = SimulatorProcess.NaBase,
            ["Tesla:Regions:eu"] = SimulatorProcess.EuBase,
            ["Tesla:Regions:cn"] = "http://fleet-cn.test",
            ["Tesla:AllowHttp"] = "true",
            ["Jobs:Enabled"] = "false",
            // Thousands of people connect from this one process's address; in life they come from thousands.
            ["Console:ConnectPerMinute"] = "10000",
            ["Logging:LogLevel:Default"] = "Warning",
        })
        {
            builder.UseSetting(k, v);
        }
        builder.ConfigureLogging(l => l.SetMinimumLevel(LogLevel.Warning));
        builder.ConfigureServices(services =>
        {
            services.ConfigureHttpClientDefaults(http => http.ConfigurePrimaryHttpMessageHandler(simulator.CreateHandler));
            services.AddSingleton<TimeProvider>(clock);
        });
    }

    /// <summary>One tenant; every account connected through the broker's connect page and the simulator's sign-in, <paramref name="parallel"/> at a time.</summary>
    public async Task<List<Guid>> ConnectAllAsync(int accounts, int parallel, Action<int> progress)
    {
        List<string> links = [];
        await using (var scope = Services.CreateAsyncScope())
        {
            var provisioning = scope.ServiceProvider.GetRequiredService<TenantProvisioning>();
            var tenant = await provisioning.EnsureTenantAsync("scale", "Fleet at scale", default);
            for (var a = 0; a < accounts; a++)
            {
                links.Add((await provisioning.AddConnectLinkAsync(tenant.Id, ScaleSeed.Email(a), default)).Token);
            }
        }
        using var tesla = simulator.Client();
        var done = 0;
        await Parallel.ForEachAsync(Enumerable.Range(0, accounts), new ParallelOptions { MaxDegreeOfParallelism = parallel }, async (a, ct) =>
        {
            using var browser = CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = true });
            await ConnectFlow.RunAsync(browser, tesla, links[a], ScaleSeed.Email(a), ScaleSeed.Password(a), ct);
            progress(Interlocked.Increment(ref done));
        });
        await using var check = Services.CreateAsyncScope();
        var db = check.ServiceProvider.GetRequiredService<BrokerDbContext>();
        return await db.TeslaAccounts.Select(a => a.Id).ToListAsync();
    }

    /// <summary>
    /// Polls every account when due until <paramref name="until"/> (simulated). A poll's lag is the
    /// simulated time from when it was due to when a worker started it.
    /// </summary>
    public async Task RunPollsAsync(IReadOnlyDictionary<Guid, DateTimeOffset> firstDue, DateTimeOffset until)
    {
        var workers = Services.GetRequiredService<IOptions<JobsOptions>>().Value.MaxConcurrency;
        var queue = new PriorityQueue<Guid, DateTimeOffset>(firstDue.Select(d => (d.Key, d.Value)));
        using var slots = new SemaphoreSlim(workers);
        while (true)
        {
            await slots.WaitAsync(); // a free thread in the pool
            Guid id;
            DateTimeOffset due;
            while (true)
            {
                bool any;
                lock (queue)
                {
                    any = queue.TryPeek(out id, out due);
                }
                var now = clock.GetUtcNow();
                if (now >= until)
                {
                    slots.Release();
                    for (var i = 0; i < workers; i++)
                    {
                        await slots.WaitAsync(); // the polls still running
                    }
                    lock (queue)
                    {
                        var late = queue.UnorderedItems.Where(x => x.Priority < until).ToList();
                        NotStarted = late.Count;
                        NotStartedMaxLagSeconds = late.Count == 0 ? 0 : (until - late.Min(x => x.Priority)).TotalSeconds;
                    }
                    return;
                }
                if (any && due <= now)
                {
                    lock (queue)
                    {
                        queue.Dequeue();
                    }
                    break;
                }
                var wait = any ? (due - now) / clock.Speed : TimeSpan.FromMilliseconds(20);
                await Task.Delay(wait < TimeSpan.FromMilliseconds(1) ? TimeSpan.FromMilliseconds(1) : wait > TimeSpan.FromMilliseconds(50) ? TimeSpan.FromMilliseconds(50) : wait);
            }
            _ = Task.Run(async () =>
            {
                try
                {
                    DateTimeOffset? next;
                    try
                    {
                        Lags.Add(new PollLag(due, (clock.GetUtcNow() - due).TotalSeconds));
                        await using var scope = Services.CreateAsyncScope();
                        next = await scope.ServiceProvider.GetRequiredService<AccountPoller>().PollAsync(id, due, default);
                    }
                    catch (Exception ex)
                    {
                        // The job failed: the account's trigger, which repeats every minute, fires again within a minute.
                        if (Interlocked.Increment(ref Errors) <= 5)
                        {
                            Console.Error.WriteLine($"poll of {id} failed: {ex.GetType().Name}: {ex.Message}");
                        }
                        next = clock.GetUtcNow().AddSeconds(60);
                    }
                    if (next is { } at)
                    {
                        lock (queue)
                        {
                            queue.Enqueue(id, at);
                        }
                    }
                }
                finally
                {
                    slots.Release();
                }
            });
        }
    }
}
