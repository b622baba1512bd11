namespace Broker.Tests.Infrastructure;

/// <summary>
/// A <see cref="BrokerTestBase"/> whose broker signs people in at a real OpenID provider (<see cref="OidcProviderHost"/>,
/// npm oidc-provider in a node process). Change <see cref="Provider"/>'s clients or accounts before calling
/// <see cref="InitializeAsync"/>, which starts it.
/// </summary>
public abstract class ConsoleTestBase(PostgresServer postgres) : BrokerTestBase(postgres)
{
    protected OidcProviderHost Provider { get; } = new();

    protected override Dictionary<string, string?> BrokerSettings => Provider.BrokerConsoleSettings();

    public override async ValueTask InitializeAsync()
    {
        await Provider.StartAsync(Ct);
        await base.InitializeAsync();
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        await Provider.DisposeAsync(); // its node process would outlive the test run
    }
}
