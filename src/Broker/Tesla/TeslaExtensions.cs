namespace Broker.Tesla;

public static class TeslaExtensions
{
    public static WebApplicationBuilder AddTesla(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<TeslaOptions>()
            .BindConfiguration(TeslaOptions.SectionName)
            .ValidateDataAnnotations()
            .Validate(o => o.Regions.Values.All(u => Uri.IsWellFormedUriString(u, UriKind.Absolute)), "Tesla:Regions must map region codes to absolute URLs.")
            .Validate(o => o.AllowHttp || o.AllUrls.All(u => u.StartsWith("https://", StringComparison.OrdinalIgnoreCase)),
                "Tesla URLs must use https (set Tesla:AllowHttp=true only to talk to the local simulator).")
            .ValidateOnStart();
        // No automatic retries: a token POST must not be replayed blindly (codes are single use,
        // refresh tokens rotate), and the callers decide what a failed Fleet call means.
        builder.Services.AddHttpClient<TeslaAuthClient>(TeslaAuthClient.HttpClientName);
        builder.Services.AddHttpClient<TeslaFleetClient>();
        return builder;
    }
}
