namespace Broker.Partner;

public static class PartnerExtensions
{
    /// <summary>The partner key, registration in the Fleet API regions and the cars' virtual-key check.</summary>
    public static WebApplicationBuilder AddPartner(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<PartnerOptions>()
            .BindConfiguration(PartnerOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.AddScoped<PartnerKeys>();
        builder.Services.AddScoped<PartnerRegistrar>();
        builder.Services.AddScoped<PartnerSetup>();
        builder.Services.AddScoped<VirtualKeyCheck>();
        return builder;
    }
}
