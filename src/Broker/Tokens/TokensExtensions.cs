namespace Broker.Tokens;

public static class TokensExtensions
{
    public static WebApplicationBuilder AddTokens(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<TokenOptions>().BindConfiguration(TokenOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddScoped<TokenRefresher>();
        return builder;
    }
}
