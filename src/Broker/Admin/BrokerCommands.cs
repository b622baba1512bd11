using Broker.Data;
using Broker.Tenants;
using Broker.Vault;

namespace Broker.Admin;

/// <summary>
/// Operator commands run with the same configuration as the web app:
/// <c>Broker migrate</c>, <c>Broker vault rekey</c>, <c>Broker tenant create &lt;slug&gt; [name]</c>.
/// </summary>
public static class BrokerCommands
{
    /// <summary>Runs the command named by <paramref name="args"/>; returns null when there is none (serve the web app).</summary>
    public static async Task<int?> RunCommandAsync(this WebApplication app, string[] args)
    {
        switch (args)
        {
            case ["migrate", ..]:
                await app.Services.MigrateBrokerDatabaseAsync();
                Console.WriteLine("Database is up to date.");
                return 0;
            case ["vault", "rekey", ..]:
                return await RekeyCommand.RunAsync(app.Services);
            case ["tenant", "create", var slug, .. var rest]:
                await using (var scope = app.Services.CreateAsyncScope())
                {
                    var provisioning = scope.ServiceProvider.GetRequiredService<TenantProvisioning>();
                    var tenant = await provisioning.EnsureTenantAsync(slug, rest.Length > 0 && !rest[0].StartsWith('-') ? rest[0] : slug, default);
                    var apiKey = await provisioning.AddApiKeyAsync(tenant.Id, "created by command", default);
                    var (_, token) = await provisioning.AddConnectLinkAsync(tenant.Id, "created by command", default);
                    Console.WriteLine($"Tenant:       {tenant.Slug} ({tenant.Id})");
                    Console.WriteLine($"API key:      {apiKey}   (shown once; only its hash is stored)");
                    Console.WriteLine($"Connect link: <broker base URL>/connect/{token}");
                }
                return 0;
            case [var unknown, ..] when !unknown.StartsWith('-'):
                await Console.Error.WriteLineAsync($"Unknown command '{unknown}'. Commands: migrate | vault rekey | tenant create <slug> [name]");
                return 2;
            default:
                return null;
        }
    }
}
