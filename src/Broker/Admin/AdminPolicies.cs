namespace Broker.Admin;

/// <summary>Authorization policy names of the console and the operator API.</summary>
public static class AdminPolicies
{
    /// <summary>
    /// The operator: a person signed in to the console whom configuration names an operator, or a
    /// request bearing an operator API key (or the bootstrap operator token).
    /// </summary>
    public const string Operator = "Operator";
}
