namespace Broker.Admin.Pages;

/// <summary>What every console page needs besides its own data: who is signed in and the form token.</summary>
public sealed record ConsoleFrame(string UserName, bool IsOperator, string AntiforgeryFieldName, string? AntiforgeryToken);
