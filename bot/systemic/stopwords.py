"""Stop words for the languages the default alarming words cover (en, fr, de, es, nl, pt).

Compact on purpose: function words and intensifiers that would otherwise dominate every topic count.
Written folded (lower case, no accents), as `topics.normalize` leaves the text.
"""

from __future__ import annotations


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


ENGLISH = _words(
    """a about above after again against all also am an and any are as at be because been before being
    below between both but by can could did do does doing done down during each even ever every few for
    from further get got had has have having he her here hers herself him himself his how however i if in
    into is it its itself just me more most much my myself no nor not now of off on once only or other our
    ours ourselves out over own really same she should so some still such than that the their theirs them
    themselves then there these they this those though through to too under until up upon very was we were
    what when where which while who whom why will with would yet you your yours yourself yourselves
    im ive dont didnt doesnt isnt wasnt wont cant couldnt wouldnt shouldnt arent werent hasnt havent hadnt
    youre theyre thats theres lets ok okay"""
)

FRENCH = _words(
    """au aux avec ce ces cet cette dans de des du elle elles en est et etait ete etre eu il ils je la le les
    leur leurs lui ma mais me meme mes moi mon ne nos notre nous on ont ou par pas pour qu que qui sa se ses
    son sont sur ta te tes toi ton tu un une vos votre vous tres trop plus moins aussi bien ca cela ceci
    tout tous toute toutes avait avons avez ai as fait faire sans sous chez donc alors car comme quand
    encore deja peu beaucoup rien"""
)

GERMAN = _words(
    """aber als am an auch auf aus bei bin bis bist da damit dann das dass dem den der des die dies diese
    dieser dieses doch dort du durch ein eine einem einen einer eines er es etwas fur hab habe haben hat
    hatte hier ich ihr ihre im in ist ja jetzt kein keine mich mir mit nach nicht noch nur ob oder schon
    sehr sein seine sich sie sind so uber um und uns unser vom von vor war waren was weil wenn wer wie wir
    wird wurde zu zum zur zwar ganz gar immer mein meine meinen meiner dein deine davon dazu"""
)

SPANISH = _words(
    """al algo como con de del el ella ellas ellos en era es esa ese eso esta estaba estan este esto estoy
    fue fueron ha han hay la las le les lo los mas me mi mis muy no nos nosotros o para pero por porque que
    se ser si sin sobre son su sus tambien te tiene tu un una unos unas ya yo aqui alli cuando donde todo
    todos toda todas nada mucho poco"""
)

DUTCH = _words(
    """aan al alle als ben bij dan dat de der deze die dit doch doen door dus een en er ge geen had heb hebben
    heeft het hier hij hoe hun ik in is ja je kan kon maar me men met mij mijn na naar niet niets nog nu of
    om omdat ons onze ook op over te tot u uit van veel voor want was wat we wel werd wie wij wordt zal ze
    zei zich zij zijn zo zou erg heel echt"""
)

PORTUGUESE = _words(
    """ao aos as com como da das de dela dele do dos ela elas ele eles em entre era essa esse esta estava este
    eu foi foram ha isso isto ja lhe mais mas me meu minha muito na nao nas nem no nos nossa nosso num numa
    os ou para pela pelo por porque quando que se sem ser seu sua suas seus so tambem te tem tu um uma voce
    voces nada tudo muita muitos"""
)

STOP_WORDS: frozenset[str] = ENGLISH | FRENCH | GERMAN | SPANISH | DUTCH | PORTUGUESE
