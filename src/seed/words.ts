/**
 * Lowercase English words for the `{word}` template placeholder. Exactly 256 of them so a word is picked with
 * one byte of a random draw; never reorder or edit this list, it is part of what a seed reproduces.
 */
export const WORDS: readonly string[] = `
  able acid aged also area army away baby back ball band bank base bath bear beat been beer bell belt
  best bill bird blow blue boat body bond bone book boom born boss both bowl bulk burn bush busy cafe
  cake call calm came camp card care case cash cast cell chat chip city club coal coat code cold come
  cook cool cope copy core cost crew crop dark data date dawn days deal dean dear debt deep deny desk
  dial diet disc disk does done door dose down draw drew drop dual duke dust duty each earn ease east
  easy edge else even ever exit face fact fail fair fall farm fast fate fear feed feel feet fell felt
  file fill film find fine fire firm fish five flat flow food foot form fort four free from fuel full
  fund gain game gate gave gear gene gift girl give glad goal goes gold golf gone good gray grew grey
  grow gulf hair half hall hand hang hard harm have head hear heat held help here hero high hill hire
  hold hole holy home hope host hour huge hung hunt idea inch into iron item jump jury just keen keep
  kept kick kind king knee knew know lack lady laid lake land lane last late lead left less life lift
  like line link list live load loan lock long look lord lose loss lost love luck made mail main make
  male many mark mass meal mean meat meet menu mere mile milk mill mind mine miss
`
  .trim()
  .split(/\s+/);
