using Broker.Tenants;

namespace Broker.Demo;

/// <summary>Secrets for the demo tenant; `./broker.sh demo` generates them once and passes them in.</summary>
public sealed class DemoOptions
{
    public const string SectionName = "Demo";
    public string? ApiKey { get; set; }
    public string? ConnectToken { get; set; }
    /// <summary>Invited as the demo tenant's admin, so the console shows a member's view too.</summary>
    public string? AdminEmail { get; set; }
}

public static class DemoSeeder
{
    /// <summary>In Development, makes sure the "demo" tenant, its API key and its connect link exist.</summary>
    public static async Task SeedDemoTenantAsync(this IServiceProvider services, CancellationToken ct = default)
    {
        await using var scope = services.CreateAsyncScope();
        var demo = scope.ServiceProvider.GetRequiredService<IConfiguration>().GetSection(DemoOptions.SectionName).Get<DemoOptions>();
        if (demo is not { ApiKey.Length: > 0, ConnectToken.Length: > 0 })
        {
            return;
        }
        var provisioning = scope.ServiceProvider.GetRequiredService<TenantProvisioning>();
        var tenant = await provisioning.EnsureTenantAsync("demo", "Demo household", ct);
        await provisioning.AddApiKeyAsync(tenant.Id, "demo", ct, demo.ApiKey);
        await provisioning.AddConnectLinkAsync(tenant.Id, "demo", ct, demo.ConnectToken);
        var db = scope.ServiceProvider.GetRequiredService<Data.BrokerDbContext>();
        if (demo.AdminEmail is { Length: > 0 } email && !db.Memberships.Any(m => m.TenantId == tenant.Id && m.Email == email))
        {
            await provisioning.InviteMemberAsync(tenant.Id, email, People.TenantRole.Admin, ct);
        }
        scope.ServiceProvider.GetRequiredService<ILogger<TenantProvisioning>>()
            .LogInformation("Demo tenant ready: connect link /connect/<Demo:ConnectToken>");
    }
}
