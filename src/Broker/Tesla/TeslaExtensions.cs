namespace Broker.Tesla;

public static class TeslaExtensions
{
    public static WebApplicationBuilder AddTesla(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<TeslaOptions>()
            .BindConfiguration(TeslaOptions.SectionName)
            .ValidateDataAnnotations()
            .Validate(o => o.Regions.Values.All(u => Uri.IsWellFormedUriString(u, UriKind.Absolute)), "Tesla:Regions must map region codes to absolute URLs.")
            .Validate(o => o.Auth.Keys.All(o.Regions.ContainsKey), "Tesla:Auth:<region> must name a region of Tesla:Regions.")
            .Validate(o => o.Realm(TeslaRealm.Global).Regions.Count > 0, "Tesla:Regions must keep at least one region that signs in at Tesla:AuthBaseUrl.")
            .Validate(o => o.AllUrls.All(u => Uri.IsWellFormedUriString(u, UriKind.Absolute)), "Tesla:Auth URLs must be absolute URLs.")
            .Validate(o => o.AllowHttp || o.AllUrls.All(u => u.StartsWith("https://", StringComparison.OrdinalIgnoreCase)),
                "Tesla URLs must use https (set Tesla:AllowHttp=true only to talk to the local simulator).")
            .ValidateOnStart();
        // No automatic retries for the token endpoint: a POST must not be replayed blindly (codes
        // are single use, refresh tokens rotate); TokenRefresher decides.
        builder.Services.AddHttpClient<TeslaAuthClient>(TeslaAuthClient.HttpClientName);
        builder.Services.AddScoped<FleetUsage>();
        builder.Services.AddScoped<TeslaAppGuard>();
        builder.Services.AddTransient<FleetUsageHandler>();
        var fleet = builder.Services.AddHttpClient<TeslaFleetClient>();
        fleet.AddResilienceHandler("fleet", FleetResilience.Configure);
        fleet.AddHttpMessageHandler<FleetUsageHandler>(); // added after, so inside the retries: sees every attempt
        return builder;
    }
}
